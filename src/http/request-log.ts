import { createMiddleware } from "hono/factory";
import { log } from "../lib/log";
import type { AppEnv } from "./app-env";

/** One structured "wide" log line per request: the route pattern, never the path (paths hold addresses). */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  const fields = {
    requestId: c.get("requestId"),
    method: c.req.method,
    route: c.req.routePath,
    status: c.res.status,
    durationMs: Date.now() - started,
    d1RoundTrips: c.get("d1RoundTrips")?.count,
    d1WaitedMs: c.get("d1RoundTrips")?.waitedMs,
  };
  if (c.res.status >= 500) log.error("request", fields);
  else log.info("request", fields);
});
