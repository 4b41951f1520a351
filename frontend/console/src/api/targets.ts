// targets-api: plans, indicators with their progress, the dashboard.
import { get } from "./http";
import type { Page } from "./petitions";

export type IndicatorStatus =
  | "achieved"
  | "on_track"
  | "at_risk"
  | "off_track"
  | "overdue"
  | "not_started";

export interface Plan {
  id: string;
  code: string;
  name_zh: string;
  name_en: string | null;
  year: number;
  period_start: string;
  period_end: string;
}

export interface Indicator {
  id: string;
  code: string;
  name_zh: string;
  name_en: string | null;
  chapter: string;
  category: string;
  unit: string;
  kind: string;
  baseline: string | null;
  target_value: string | null;
  lead_department: string | null;
  livelihood_project: boolean;
  livelihood_number: number | null;
  live_source: string | null;
  status: IndicatorStatus;
}

export interface IndicatorDetail extends Indicator {
  progress: {
    value: string | null;
    done: boolean | null;
    as_of: string | null;
    expected_by_now: string | null;
    elapsed_share: string | null;
    status: IndicatorStatus;
  } | null;
}

export type StatusCounts = Record<IndicatorStatus, number>;

export interface Dashboard {
  plan: Plan;
  total: number;
  by_status: StatusCounts;
  by_department: { department: string; total: number; by_status: StatusCounts }[];
  livelihood_projects: {
    number: number;
    indicators: number;
    achieved: number;
    by_status: StatusCounts;
    items: Indicator[];
  }[];
}

export const plans = () => get<Plan[]>("targets", "/v1/plans");
export const dashboard = (plan: string) => get<Dashboard>("targets", `/v1/plans/${plan}/dashboard`);
export const indicatorDetail = (id: string) =>
  get<IndicatorDetail>("targets", `/v1/indicators/${id}`);

export async function allIndicators(planId: string): Promise<Indicator[]> {
  const items: Indicator[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Indicator> = await get<Page<Indicator>>("targets", "/v1/indicators", {
      plan_id: planId,
      limit: 100,
      cursor,
    });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
