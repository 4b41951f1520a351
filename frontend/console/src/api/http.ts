// Calls the public APIs through the console's origin (/api/<service>/…, proxied by
// deploy/local/console_server.py or nginx) with the signed-in person's token.
import { session, signOut } from "../auth/session";

export type Service = "petitions" | "targets" | "notifier";

/** An RFC 9457 problem, as every service answers errors. */
export class Problem extends Error {
  constructor(
    public status: number,
    public title: string,
    public detail: string | null,
    public body: Record<string, unknown>,
  ) {
    super(detail ?? title);
  }
  get invalidParams(): { name: string; reason: string }[] {
    return (this.body.invalid_params as { name: string; reason: string }[] | undefined) ?? [];
  }
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | string[] | null | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  anonymous?: boolean;
}

export interface Answer<T> {
  data: T;
  headers: Headers;
}

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(callback: () => void): void {
  onUnauthorized = callback;
}

export function url(service: Service, path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (Array.isArray(v)) v.forEach((item) => params.append(k, item));
    else if (v !== null && v !== undefined && v !== "") params.append(k, String(v));
  }
  const qs = params.toString();
  return `/api/${service}${path}${qs ? `?${qs}` : ""}`;
}

export async function request<T>(
  service: Service,
  path: string,
  options: RequestOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = new URLSearchParams(options.form);
  }
  if (!options.anonymous && session.token) headers.authorization = `Bearer ${session.token}`;
  const response = await fetch(url(service, path, options.query), {
    method: options.method ?? (body ? "POST" : "GET"),
    headers,
    body,
  });
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { title: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const p = (parsed ?? {}) as Record<string, unknown>;
    if (response.status === 401 && !options.anonymous) {
      signOut();
      onUnauthorized();
    }
    throw new Problem(
      response.status,
      String(p.title ?? p.error ?? response.statusText),
      (p.detail as string | undefined) ?? (p.error_description as string | undefined) ?? null,
      p,
    );
  }
  return { data: parsed as T, headers: response.headers };
}

export async function get<T>(service: Service, path: string, query?: RequestOptions["query"]) {
  return (await request<T>(service, path, { query })).data;
}
