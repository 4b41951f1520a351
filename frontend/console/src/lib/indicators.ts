// Colours and progress of the plan's indicators, as the dashboard shows them.
import type { Indicator, IndicatorDetail, IndicatorStatus } from "../api/targets";

export const STATUS_ORDER: IndicatorStatus[] = ["achieved", "on_track", "at_risk", "off_track", "overdue", "not_started"];

export const STATUS_COLOURS: Record<IndicatorStatus, string> = {
  achieved: "#2e8b57",
  on_track: "#1f5fa8",
  at_risk: "#d98a00",
  off_track: "#c0392b",
  overdue: "#7b241c",
  not_started: "#9aa3af",
};

export interface Progress {
  /** share of the target reached, 0…1+ (null when the indicator is not a count) */
  actual: number | null;
  /** share of the target expected by now, 0…1 */
  expected: number | null;
}

/** Share of the way from baseline to target, for count indicators (at least / exact). */
export function progressOf(i: Indicator | IndicatorDetail): Progress {
  if (!("progress" in i)) return { actual: null, expected: null };
  const p = i.progress;
  const target = i.target_value === null ? NaN : Number(i.target_value);
  const base = i.baseline === null ? 0 : Number(i.baseline);
  const span = target - base;
  if (!p || !["at_least", "exact"].includes(i.kind) || !Number.isFinite(span) || span <= 0) {
    if (i.kind === "milestone" && p) return { actual: p.done ? 1 : 0, expected: p.elapsed_share === null ? null : Number(p.elapsed_share) };
    return { actual: null, expected: null };
  }
  const share = (v: string | null) => (v === null ? null : Math.max(0, (Number(v) - base) / span));
  return { actual: share(p.value) ?? 0, expected: share(p.expected_by_now) };
}

/** Indicators grouped by the chapter of the work report, in catalogue order. */
export function byChapter<T extends { chapter: string }>(items: T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.chapter) ?? [];
    list.push(item);
    groups.set(item.chapter, list);
  }
  return [...groups.entries()];
}

/** Run tasks with at most `limit` at a time (so the dashboard does not trip rate limits). */
export async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
