// The signed-in person: the bearer token from petitions-api's issuer (password grant) and
// what its claims say. Kept in sessionStorage only: it dies with the tab, never in cookies or
// localStorage, and it is dropped as soon as it expires or an API answers 401.
import { computed, reactive } from "vue";

export type Role =
  | "operator"
  | "handler"
  | "supervisor"
  | "unit_head"
  | "planner"
  | "admin"
  | "system_client"
  | "read_only";

export interface Claims {
  sub: string;
  roles: Role[];
  org_unit?: string | null;
  exp: number;
}

const STORAGE_KEY = "gov-console.token";

export function decodeClaims(token: string): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Claims;
    if (typeof claims.sub !== "string" || !Array.isArray(claims.roles)) return null;
    return claims;
  } catch {
    return null;
  }
}

function load(): { token: string | null; claims: Claims | null } {
  const token = sessionStorage.getItem(STORAGE_KEY);
  const claims = token ? decodeClaims(token) : null;
  if (!token || !claims || claims.exp * 1000 <= Date.now()) {
    sessionStorage.removeItem(STORAGE_KEY);
    return { token: null, claims: null };
  }
  return { token, claims };
}

export const session = reactive(load());

export const signedIn = computed(() => session.token !== null);

export function hasRole(...roles: Role[]): boolean {
  const mine = session.claims?.roles ?? [];
  return mine.includes("admin") || roles.some((r) => mine.includes(r));
}

export function setToken(token: string): void {
  const claims = decodeClaims(token);
  if (!claims) throw new Error("the issuer returned a token that is not a JWT");
  sessionStorage.setItem(STORAGE_KEY, token);
  session.token = token;
  session.claims = claims;
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  session.token = null;
  session.claims = null;
}

/** Where a role starts: the workbench for those who work cases, else the dashboard. */
export function homeFor(roles: Role[]): string {
  if (roles.some((r) => ["operator", "handler", "supervisor", "unit_head", "admin"].includes(r))) {
    return "/queue";
  }
  return "/dashboard";
}
