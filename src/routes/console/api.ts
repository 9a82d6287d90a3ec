import type { Context } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { asPrincipal } from "../../http/internal-principal";

/**
 * One admin API request made as the signed-in key: the same validation, scope check, service,
 * audit entry and error message as a curl with that key would get.
 */
export function callApi(
  c: Context<ConsoleEnv>,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("x-request-id", c.var.requestId);
  const request = new Request(new URL(path, c.req.url), { ...init, method, headers });
  return c.var.appFetch(asPrincipal(request, c.var.principal), c.env, c.executionCtx);
}

export type ApiResult<T> = { ok: true; data: T } | { ok: false; status: number; error: string };

/** A JSON answer, or the API's own error message (shown inline as is). */
export async function apiJson<T>(
  c: Context<ConsoleEnv>,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const init: RequestInit =
    body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
  const res = await callApi(c, method, path, init);
  const parsed = (await res.json().catch(() => null)) as (T & { error?: string }) | null;
  if (res.ok && parsed) return { ok: true, data: parsed };
  return { ok: false, status: res.status, error: parsed?.error ?? `The API answered ${res.status}` };
}

export const apiGet = <T>(c: Context<ConsoleEnv>, path: string) => apiJson<T>(c, "GET", path);

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
