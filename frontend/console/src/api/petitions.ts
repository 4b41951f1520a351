// petitions-api: cases, their actions, reference data, the metrics. Shapes follow its
// OpenAPI (/api/petitions/openapi.json).
import { get, request } from "./http";

export type CaseKind = "hotline_ticket" | "petition_case";
export type Channel = "hotline_call" | "web" | "letter" | "visit" | "transfer_from_above";
export type CaseStatus =
  | "registered"
  | "declined"
  | "accepted"
  | "dispatched"
  | "in_progress"
  | "replied"
  | "rated"
  | "closed";
export type Action =
  | "accept"
  | "decline"
  | "dispatch"
  | "take"
  | "return"
  | "approve_return"
  | "refuse_return"
  | "reply"
  | "rate"
  | "close"
  | "reopen"
  | "extend"
  | "request_extension"
  | "approve_extension"
  | "refuse_extension"
  | "supervise"
  | "escalate"
  | "request_review";

export interface Deadline {
  kind: "forwarding" | "acceptance" | "handling" | "return" | "review" | "re_review" | "hotline" | "supervision";
  started_at: string;
  due_on: string | null;
  due_at: string;
  met_at: string | null;
  cancelled_at: string | null;
  /** 暂定: rests on a year whose official holiday schedule is not known yet */
  provisional: boolean;
}

export interface Case {
  id: string;
  case_number: string;
  kind: CaseKind;
  channel: Channel;
  subject: string;
  description: string;
  received_on: string;
  status: CaseStatus;
  version: number;
  category_code: string | null;
  place_unit_id: string | null;
  place_address: string | null;
  town_unit_id: string | null;
  handling_unit_id: string | null;
  urgent: boolean;
  group_size: number;
  first_time: boolean;
  repeat_of: string | null;
  repeat_score: number | null;
  repeat_confirmed: boolean;
  review_stage: string;
  final: boolean;
  accepted_on: string | null;
  extended: boolean;
  reply_outcome: string | null;
  replied_on: string | null;
  rating: string | null;
  resolution_level: string | null;
  grassroots: boolean | null;
  effective: boolean | null;
  closed_on: string | null;
  supervisor_id: string | null;
  supervision_due_on: string | null;
  created_at: string;
  allowed_actions: Action[];
  deadlines: Deadline[];
  /** A unit's return or extension request waiting on its decision (registry or unit head). */
  pending_request: PendingRequest | null;
  decline_route: string | null;
  decision_notified_on: string | null;
  decision_notice_means: string | null;
}

export interface PendingRequest {
  kind: "return" | "extension";
  unit_id: string | null;
  requested_by: string;
  requested_at: string;
  reason: string;
  days: number | null;
}

export interface TimelineEntry {
  id: number;
  action: string;
  from_status: string | null;
  to_status: string;
  actor: string | null;
  reason: string | null;
  details: Record<string, unknown>;
  occurred_at: string;
}

export interface Petitioner {
  name: string;
  phone: string | null;
  id_number: string | null;
  address: string | null;
  masked: boolean;
}

export interface OrgUnit {
  code: string;
  name: string;
  short_name: string | null;
  level: string;
  parent_code: string | null;
  path: string;
  grassroots: boolean;
}

export interface Category {
  code: string;
  name: string;
  group: string;
  description: string;
  keywords: string[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PeriodRead {
  label: string;
  start: string;
  end: string;
}

export interface TownFigure {
  town_unit_id: string;
  town_name: string;
  numerator: number;
  denominator: number;
  rate: number | null;
  meets_target: boolean | null;
  cases_url: string;
}

export interface Figure {
  definition_id: string;
  definition_version: string;
  title: string;
  period: PeriodRead | null;
  numerator: number;
  denominator: number;
  rate: number | null;
  target?: number | null;
  meets_target?: boolean | null;
  components: Record<string, number>;
  cases_url: string;
  breakdown?: TownFigure[] | null;
}

export interface MetricCase {
  id: string;
  case_number: string;
  kind: CaseKind;
  status: CaseStatus;
  received_on: string;
  closed_on: string | null;
  town_unit_id: string | null;
  handling_unit_id: string | null;
  resolution_level: string | null;
  first_time: boolean;
  rating: string | null;
  in_numerator: boolean;
}

export interface CaseFilters {
  status?: CaseStatus[];
  kind?: string;
  overdue?: boolean | null;
  first_time?: boolean | null;
  q?: string;
  unit?: string;
  category?: string;
  limit?: number;
  cursor?: string | null;
  phone?: string;
}

export const listCases = (filters: CaseFilters) =>
  get<Page<Case>>("petitions", "/v1/cases", { ...filters });

export const getCase = async (id: string) => {
  const answer = await request<Case>("petitions", `/v1/cases/${id}`);
  return answer.data;
};

export const timeline = (id: string) =>
  get<TimelineEntry[]>("petitions", `/v1/cases/${id}/timeline`);

export const petitioner = (id: string) =>
  get<Petitioner>("petitions", `/v1/cases/${id}/petitioner`);

export interface NewCase {
  kind: CaseKind;
  channel: Channel;
  subject: string;
  description: string;
  category_code?: string | null;
  urgent?: boolean;
  received_on?: string | null;
  place?: { unit_id?: string | null; address?: string | null } | null;
  petitioner?: { name: string; phone?: string | null; id_number?: string | null; address?: string | null } | null;
}

export const createCase = async (body: NewCase, idempotencyKey: string) =>
  (
    await request<Case>("petitions", "/v1/cases", {
      json: body,
      headers: { "idempotency-key": idempotencyKey },
    })
  ).data;

/** One lifecycle step; If-Match with the version we show, so a stale page gets 412. */
export const act = async (c: Case, action: Action, body: Record<string, unknown>) =>
  (
    await request<Case>("petitions", `/v1/cases/${c.id}/actions/${action}`, {
      json: body,
      headers: { "if-match": `"${c.version}"` },
    })
  ).data;

export const confirmRepeat = async (c: Case) =>
  (
    await request<Case>("petitions", `/v1/cases/${c.id}/repeat/confirm`, {
      method: "POST",
      headers: { "if-match": `"${c.version}"` },
    })
  ).data;

export const unlinkRepeat = async (c: Case) =>
  (
    await request<Case>("petitions", `/v1/cases/${c.id}/repeat`, {
      method: "DELETE",
      headers: { "if-match": `"${c.version}"` },
    })
  ).data;

export const orgUnits = () => get<OrgUnit[]>("petitions", "/v1/org-units");
export const categories = () => get<Category[]>("petitions", "/v1/categories");

export interface PeriodQuery {
  period?: string;
  from?: string;
  to?: string;
  unit?: string;
  kind?: string;
}

export const figure = (id: string, q: PeriodQuery) =>
  get<Figure>("petitions", `/v1/metrics/${id}`, q as Record<string, string>);

export const summary = (q: PeriodQuery) =>
  get<{ period: PeriodRead; figures: Figure[] }>("petitions", "/v1/metrics/summary", q as Record<string, string>);

export const metricCases = (
  id: string,
  q: PeriodQuery & { in_numerator?: boolean | null; town?: string | null; cursor?: string | null; limit?: number },
) => get<Page<MetricCase>>("petitions", `/v1/metrics/${id}/cases`, q as Record<string, string>);

/** Password grant at the built-in issuer (docs/security.md, "Where the issuer lives"). */
export const signIn = async (username: string, password: string) =>
  (
    await request<{ access_token: string; expires_in: number }>("petitions", "/oauth/token", {
      method: "POST",
      form: { grant_type: "password", username, password },
      anonymous: true,
    })
  ).data;

/** Does GET /v1/cases take `phone` (a lookup of a caller's earlier cases before saving)? */
export async function supportsPhoneLookup(): Promise<boolean> {
  try {
    const spec = await get<{ paths: Record<string, { get?: { parameters?: { name: string }[] } }> }>(
      "petitions",
      "/openapi.json",
    );
    return (spec.paths["/v1/cases"]?.get?.parameters ?? []).some((p) => p.name === "phone");
  } catch {
    return false;
  }
}
