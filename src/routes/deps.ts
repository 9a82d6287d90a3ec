import type { Context } from "hono";
import type { AppEnv } from "../lib/app-env";
import type { IngestDeps } from "../pipeline/ingest";
import { routeDepsFromEnv, type RouteDeps } from "../pipeline/route";

/** Journey routing's dependencies from a request's bindings. */
export const routeDeps = (c: Context<AppEnv>): RouteDeps => routeDepsFromEnv(c.env, c.get("db"));

export function ingestDeps(c: Context<AppEnv>): IngestDeps {
  return {
    ...routeDeps(c),
    idempotencyKeys: c.env.IDEMPOTENCY_KEYS,
    idempotencyTtlSeconds: Number(c.env.IDEMPOTENCY_TTL_SECONDS) || 604800,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}
