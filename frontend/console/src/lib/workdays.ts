// Deadlines counted in working days on China's official calendar (holidays and 调休 make-up
// days, as petitions-api's GET /v1/calendar/{year} has them: lib/calendar.ts), in
// Asia/Shanghai as petitions-api counts them.
import type { Deadline } from "../api/petitions";
import { isWorkday, loadYears, yearsBetween } from "./calendar";

const ZONE = "Asia/Shanghai";
const dayFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

/** The calendar day (YYYY-MM-DD) of an instant, in Shanghai. */
export function shanghaiDay(instant: Date): string {
  return dayFormat.format(instant);
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Working days in (from, to]: 0 when to ≤ from. */
export function workingDaysBetween(from: string, to: string): number {
  let count = 0;
  for (let day = nextDay(from); day <= to; day = nextDay(day)) {
    if (isWorkday(day)) count += 1;
  }
  return count;
}

export type Urgency = "overdue" | "due_soon" | "ok" | "done";

export interface Countdown {
  urgency: Urgency;
  /** working days left after today (positive) or past due (negative); 0 = due today */
  workingDays: number;
  /** hours left (negative when past due) */
  hours: number;
  dueAt: Date;
}

/** Within this many hours a clock is due soon (petitions-api's first threshold, 72h). */
export const DUE_SOON_HOURS = 72;

export function running(d: Deadline): boolean {
  return d.met_at === null && d.cancelled_at === null;
}

export function countdown(d: Deadline, now: Date = new Date()): Countdown {
  const dueAt = new Date(d.due_at);
  const hours = (dueAt.getTime() - now.getTime()) / 3_600_000;
  const today = shanghaiDay(now);
  // A clock due at 00:00 ends with the day before (the API's due_on): count to that day.
  const dueDay = d.due_on ?? shanghaiDay(new Date(dueAt.getTime() - 1));
  const workingDays =
    dueDay >= today ? workingDaysBetween(today, dueDay) : -workingDaysBetween(dueDay, today);
  let urgency: Urgency = "ok";
  if (!running(d)) urgency = "done";
  else if (hours < 0) urgency = "overdue";
  else if (hours <= DUE_SOON_HOURS) urgency = "due_soon";
  return { urgency, workingDays, hours, dueAt };
}

/** Load the calendar years the countdowns of these deadlines read. */
export function loadCalendarFor(deadlines: Deadline[], now: Date = new Date()): Promise<void> {
  const days = deadlines.filter(running).map((d) => d.due_on ?? shanghaiDay(new Date(d.due_at)));
  return loadYears(yearsBetween(days, shanghaiDay(now)));
}

/** The running clock that falls due first, if any. */
export function nextDeadline(deadlines: Deadline[]): Deadline | null {
  const open = deadlines.filter(running);
  open.sort((a, b) => a.due_at.localeCompare(b.due_at));
  return open[0] ?? null;
}

const RANK: Record<Urgency, number> = { overdue: 0, due_soon: 1, ok: 2, done: 3 };

/** Queue order: overdue first (most overdue on top), then due soon, then by due time. */
export function queueOrder<T extends { deadlines: Deadline[]; received_on: string }>(
  items: T[],
  now: Date = new Date(),
): T[] {
  const keyed = items.map((item) => {
    const next = nextDeadline(item.deadlines);
    const c = next ? countdown(next, now) : null;
    return { item, rank: c ? RANK[c.urgency] : 3, due: next?.due_at ?? "9999" };
  });
  keyed.sort((a, b) => a.rank - b.rank || a.due.localeCompare(b.due));
  return keyed.map((k) => k.item);
}
