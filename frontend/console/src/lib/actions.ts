// Which of the actions the case's state allows (the API's `allowed_actions`) this person may
// take. The API decides by state; who may act is petitions-api's policy
// (services/petitions-api/src/petitions_api/security.py, ACTIONS), mirrored here so that a
// button is never offered that would only answer 403. The API still checks both.
import type { Action, Case } from "../api/petitions";
import type { Role } from "../auth/session";

export const ACTION_ROLES: Record<Action, Role[]> = {
  accept: ["operator"],
  decline: ["operator"],
  dispatch: ["operator"],
  rate: ["operator"],
  close: ["operator"],
  reopen: ["operator"],
  request_review: ["operator"],
  take: ["handler"],
  return: ["handler"],
  reply: ["handler"],
  supervise: ["supervisor"],
  escalate: ["supervisor"],
  extend: ["supervisor"],
};

/** The fields each action's body needs (its OpenAPI schema); `note` is optional on all. */
export const ACTION_FIELDS: Record<Action, string[]> = {
  accept: [],
  decline: ["reason"],
  dispatch: ["to_unit_id?"],
  take: [],
  return: ["reason"],
  reply: ["outcome", "reply"],
  rate: ["rating"],
  close: [],
  reopen: ["reason"],
  extend: ["days", "reason"],
  supervise: ["due_on"],
  escalate: ["to_unit_id", "reason"],
  request_review: ["reason"],
};

export function mayTake(roles: Role[], action: Action): boolean {
  return roles.includes("admin") || ACTION_ROLES[action].some((r) => roles.includes(r));
}

export function actionsFor(c: Case, roles: Role[]): Action[] {
  return c.allowed_actions.filter((a) => mayTake(roles, a));
}
