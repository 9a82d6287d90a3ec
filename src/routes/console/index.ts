import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import { type AppFetch, type ConsoleEnv, consoleSession } from "../../http/console-session";
import { callApi } from "./api";
import { eventRoutes } from "./events";
import { importRoutes } from "./imports";
import { moreRoutes } from "./more";
import { overviewRoutes } from "./overview";
import { peopleRoutes } from "./people";
import { signInRoutes, signOut } from "./sign-in";

/**
 * Every console answer: files from this origin only (no inline script or style, no CDN), never
 * framed, never cached, no referrer (ids in URLs stay here).
 */
const consoleHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    objectSrc: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
  // A route may set its own (an email's body, framed in the console and sandboxed).
  overwrite: false,
});

const noStore = createMiddleware(async (c, next) => {
  await next();
  c.header("Cache-Control", "no-store");
});

/** The request headers an admin route reads, passed on by the console's API pass-through. */
const FORWARDED = ["content-type", "content-length", "x-import-options", "accept"];

/**
 * The console (docs/console.md), mounted at /console. Pages read and act through the app's own
 * admin routes (`appFetch`) as the signed-in key: one data path, one audit log, one set of errors.
 */
export function consoleRoutes(appFetch: AppFetch) {
  const app = new Hono<ConsoleEnv>();
  app.use("*", consoleHeaders, noStore, async (c, next) => {
    c.set("appFetch", appFetch);
    await next();
  });
  app.route("/", signInRoutes());
  app.use("*", consoleSession);
  app.post("/sign-out", signOut);
  // For the page scripts (uploads, progress): /console/api/v1/admin/… is that admin route, as this session.
  app.all("/api/v1/admin/*", (c) => {
    const url = new URL(c.req.url);
    const headers = new Headers();
    for (const name of FORWARDED) {
      const value = c.req.header(name);
      if (value) headers.set(name, value);
    }
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    return callApi(c, c.req.method, `${url.pathname.slice("/console/api".length)}${url.search}`, {
      headers,
      body: hasBody ? c.req.raw.body : undefined,
    });
  });
  app.route("/", overviewRoutes());
  app.route("/", peopleRoutes());
  app.route("/", importRoutes());
  app.route("/", eventRoutes());
  app.route("/", moreRoutes());
  return app;
}
