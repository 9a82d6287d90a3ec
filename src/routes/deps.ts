import type { Context } from "hono";
import type { AppEnv } from "../lib/app-env";
import type { IngestDeps } from "../pipeline/ingest";
import type { RouteDeps } from "../pipeline/route";

/** Journey routing's dependencies from a request's bindings. */
export function routeDeps(c: Context<AppEnv>): RouteDeps {
  return { db: c.get("db"), workflow: c.env.JOURNEY_WORKFLOW, journeyStarts: c.env.JOURNEY_STARTS_QUEUE };
}

export function ingestDeps(c: Context<AppEnv>): IngestDeps {
  return {
    ...routeDeps(c),
    idempotencyKeys: c.env.IDEMPOTENCY_KEYS,
    idempotencyTtlSeconds: Number(c.env.IDEMPOTENCY_TTL_SECONDS) || 604800,
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  };
}
