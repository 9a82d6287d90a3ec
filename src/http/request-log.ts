import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";

/** One structured "wide" log line per request. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  await next();
  console.log(
    JSON.stringify({
      level: c.res.status >= 500 ? "error" : "info",
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      route: c.req.routePath,
      status: c.res.status,
      durationMs: Date.now() - started,
      d1RoundTrips: c.get("d1RoundTrips")?.count,
    }),
  );
});
