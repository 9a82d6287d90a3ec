import { createMiddleware } from "hono/factory";
import type { Router } from "hono/router";
import { AppError, errorResponse } from "../lib/errors";
import type { AppEnv } from "./app-env";
import { allowedMethods, routesFor } from "./router";

/**
 * A path that exists but not with this method answers 405 with `Allow` (RFC 9110), before any
 * rate limit or key check: the method is wrong whoever asks. Paths no route has fall through to 404.
 */
export const methodNotAllowed = (router: Router<unknown>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (routesFor(router, method, c.req.path).length > 0) return next();
    const allowed = allowedMethods(router, c.req.path);
    if (allowed.length === 0) return next();
    c.header("Allow", allowed.join(", "));
    return errorResponse(
      c,
      new AppError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}: use ${allowed.join(", ")}`),
    );
  });
