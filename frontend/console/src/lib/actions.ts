// The steps the console offers for a case: exactly the API's `allowed_actions`, which
// petitions-api computes for *this caller* (the case's track and state, a request waiting on a
// decision, the caller's role and unit: services/petitions-api/src/petitions_api/cases/
// authority.py). The console keeps no copy of the role table, so it can offer nothing the API
// would refuse, and nothing the API allows is hidden.
import type { Action, Case } from "../api/petitions";

/** The fields each action's body takes (its OpenAPI schema): `?` optional; `notice_means`
 * and `notice_given_on` are sent as `notice: {means, given_on}`. `note` is optional on all.
 * A 信访 case's acceptance and decline need the written notice (书面告知) and a decline its
 * statutory route (《信访工作条例》第二十二条、第三十一条); a 12345 ticket's do not. */
export function fieldsFor(action: Action, c: Pick<Case, "kind">): string[] {
  const petition = c.kind === "petition_case";
  switch (action) {
    case "accept":
      return petition ? ["notice_means", "notice_given_on?"] : [];
    case "decline":
      return petition ? ["reason", "route", "notice_means", "notice_given_on?"] : ["reason"];
    case "dispatch":
      return ["to_unit_id?"];
    case "approve_return":
      return ["to_unit_id"];
    case "return":
    case "refuse_return":
    case "refuse_extension":
    case "reopen":
    case "request_review":
      return ["reason"];
    case "reply":
      return ["outcome", "reply"];
    case "rate":
      return ["rating"];
    case "extend":
    case "request_extension":
      return ["days", "reason"];
    case "approve_extension":
      return ["days?", "notice_means", "notice_given_on?"];
    case "supervise":
      return ["due_on"];
    case "escalate":
      return ["to_unit_id", "reason"];
    default:
      return [];
  }
}

/** The request body from the form's values (names as in `fieldsFor`). A value may be a
 * number: Vue's v-model on `<input type="number">` casts what is typed. */
export function bodyFrom(
  fields: string[],
  values: Record<string, string | number | undefined>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const notice: Record<string, string> = {};
  for (const field of fields) {
    const name = field.replace("?", "");
    const v = values[name] == null ? "" : String(values[name]).trim();
    if (!v) continue;
    if (name.startsWith("notice_")) notice[name.slice("notice_".length)] = v;
    else body[name] = name === "days" ? Number(v) : v;
  }
  if (Object.keys(notice).length) body.notice = notice;
  const note = values.note == null ? "" : String(values.note).trim();
  if (note) body.note = note;
  return body;
}

export function actionsFor(c: Case): Action[] {
  return c.allowed_actions;
}
