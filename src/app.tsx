import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { requestId } from "hono/request-id";
import { buildDeps } from "./composition";
import { createDb } from "./db/client";
import { countRoundTrips, newRoundTripCounter } from "./db/round-trips";
import type { AppEnv } from "./http/app-env";
import { authenticate } from "./http/auth";
import { authorize } from "./http/authorize";
import { apiReferenceHeaders } from "./http/html-headers";
import { methodNotAllowed } from "./http/method-not-allowed";
import { declareAuthResponses, operationLookup } from "./http/operations";
import { rateLimit, unsubscribeBucket, verifiedKeyBucket } from "./http/rate-limit";
import { requestLog } from "./http/request-log";
import { PathParamRouter } from "./http/router";
import { validationHook } from "./http/validation";
import { AppError, errorResponse, toAppError } from "./lib/errors";
import { errorFields, log } from "./lib/log";
import { adminApiKeyRoutes } from "./routes/admin/api-keys";
import { adminAuditLogRoutes } from "./routes/admin/audit-log";
import { adminBackfillRoutes } from "./routes/admin/backfills";
import { adminBroadcastRoutes } from "./routes/admin/broadcasts";
import { adminCatalogRoutes } from "./routes/admin/catalog";
import { adminContactErasureRoutes } from "./routes/admin/contact-erasure";
import { adminContactMergeRoutes } from "./routes/admin/contact-merge";
import { adminContactRoutes } from "./routes/admin/contacts";
import { adminDeadLetterRoutes } from "./routes/admin/dead-letters";
import { adminEmailRoutes } from "./routes/admin/emails";
import { adminEventRoutes } from "./routes/admin/events";
import { adminExportRoutes } from "./routes/admin/export";
import { adminImportStartRoutes } from "./routes/admin/import-start";
import { adminImportUploadRoutes, isUploadPartPath } from "./routes/admin/import-uploads";
import { adminImportRoutes } from "./routes/admin/imports";
import { adminJourneyEnrollmentRoutes } from "./routes/admin/journey-enrollment";
import { adminJourneyRoutes } from "./routes/admin/journeys";
import { adminMetricsRoutes } from "./routes/admin/metrics";
import { adminReplayRoutes } from "./routes/admin/replay";
import { adminSuppressionImportRoutes } from "./routes/admin/suppression-import";
import { adminSuppressionRoutes } from "./routes/admin/suppressions";
import { adminWebhookDeliveryRoutes } from "./routes/admin/webhook-deliveries";
import { adminWebhookRoutes } from "./routes/admin/webhooks";
import { consoleRoutes } from "./routes/console";
import { ApiReference, registerDocumentPaths } from "./routes/docs";
import { emailRoutes } from "./routes/emails";
import { healthRoutes } from "./routes/health";
import { ingestRoutes } from "./routes/ingest";
import { ROUTER_PARAM_PATTERNS } from "./routes/path-params";
import { forbiddenResponse, rateLimitedResponse, SECURITY_SCHEMES } from "./routes/schemas";
import { trackingRoutes } from "./routes/tracking";
import { unsubscribeRoutes } from "./routes/unsubscribe";
import { postHogWebhookRoutes } from "./routes/webhooks/posthog";
import { resendWebhookRoutes } from "./routes/webhooks/resend-webhooks";

export const ADMIN_BODY_MAX_BYTES = 5 * 1024 * 1024;

const OPENAPI_INFO = {
  title: "Hogsend on Workers",
  version: "0.1.0",
  description:
    "Code-first lifecycle email: ingest product events, run journeys, and operate contacts in bulk. Every admin and ingest route takes `Authorization: Bearer <key>`: a stored `hsk_` key or a bootstrap key (ADMIN_API_KEY, INGEST_API_KEY); each operation's `security` names the scope it needs (403 `FORBIDDEN` without it). A method a path does not have answers 405 with `Allow`; a path that does not exist answers 404.",
};

/** Every route group; each path matches one operation whatever the order (src/routes/path-params.ts). */
export const ROUTE_GROUPS = [
  healthRoutes,
  ingestRoutes,
  emailRoutes,
  postHogWebhookRoutes,
  resendWebhookRoutes,
  unsubscribeRoutes,
  trackingRoutes,
  adminImportStartRoutes,
  adminImportUploadRoutes,
  adminImportRoutes,
  adminExportRoutes,
  adminContactRoutes,
  adminContactErasureRoutes,
  adminContactMergeRoutes,
  adminReplayRoutes,
  adminEventRoutes,
  adminBackfillRoutes,
  adminBroadcastRoutes,
  adminJourneyRoutes,
  adminJourneyEnrollmentRoutes,
  adminEmailRoutes,
  adminCatalogRoutes,
  adminMetricsRoutes,
  adminDeadLetterRoutes,
  adminApiKeyRoutes,
  adminAuditLogRoutes,
  adminSuppressionImportRoutes,
  adminSuppressionRoutes,
  adminWebhookRoutes,
  adminWebhookDeliveryRoutes,
];

export function createApp(routeGroups: ReadonlyArray<OpenAPIHono<AppEnv>> = ROUTE_GROUPS) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: validationHook,
    router: new PathParamRouter(ROUTER_PARAM_PATTERNS),
  });

  app.use("*", requestId());
  app.use("*", requestLog);
  app.use("*", methodNotAllowed(app.router));
  // Before any D1 work, so a refused request costs one limiter call. Admin routes are limited only
  // for keys not verified from memory (inside authenticate).
  for (const path of ["/v1/health", "/docs", "/openapi.json"]) {
    app.use(path, rateLimit("RATE_LIMIT_PUBLIC"));
  }
  app.use("/v1/email/unsubscribe", rateLimit("RATE_LIMIT_PUBLIC", unsubscribeBucket));
  app.use("/v1/webhooks/*", rateLimit("RATE_LIMIT_WEBHOOKS"));
  app.use(
    "*",
    createMiddleware<AppEnv>(async (c, next) => {
      const roundTrips = newRoundTripCounter();
      const db = createDb(countRoundTrips(c.env.DB, roundTrips));
      c.set("db", db);
      c.set("deps", buildDeps(c.env, { db, waitUntil: (promise) => c.executionCtx.waitUntil(promise) }));
      c.set("d1RoundTrips", roundTrips);
      await next();
      c.header("X-D1-Round-Trips", String(roundTrips.count));
    }),
  );
  // Keys: a bootstrap or recently verified key costs no D1 round trip; ingest (and transactional
  // email) is then limited per
  // verified key (unverified tokens per IP, inside authenticate), before any D1 work of its own.
  const lookup = operationLookup(app);
  for (const path of ["/v1/ingest", "/v1/ingest/*", "/v1/emails"]) {
    app.use(
      path,
      authenticate("RATE_LIMIT_INGEST"),
      rateLimit("RATE_LIMIT_INGEST", verifiedKeyBucket),
      authorize(lookup),
    );
  }
  app.use("/v1/admin/*", authenticate("RATE_LIMIT_PUBLIC"), authorize(lookup));
  // Admin JSON bodies (replay ids, 500-user batches, filters) fit well inside this; the import
  // route sets its own limits (10 MB envelope, 100 MB streamed file), and so does an upload part (100 MB).
  const adminBodyLimit = bodyLimit({ maxSize: ADMIN_BODY_MAX_BYTES });
  const ownLimit = (path: string) =>
    path === "/v1/admin/contacts/import" || path === "/v1/admin/suppressions/import" || isUploadPartPath(path);
  app.use("/v1/admin/*", (c, next) => (ownLimit(c.req.path) ? next() : adminBodyLimit(c, next)));

  for (const routes of routeGroups) app.route("/", routes);
  // The console (not in the OpenAPI document): pages that call these same routes as the signed-in key.
  app.route(
    "/console",
    consoleRoutes(async (request, env, ctx) => app.fetch(request, env, ctx)),
  );
  declareAuthResponses(app, { 403: forbiddenResponse, 429: rateLimitedResponse[429] });

  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
  }
  registerDocumentPaths(app.openAPIRegistry);
  app.doc31("/openapi.json", { openapi: "3.1.0", info: OPENAPI_INFO, servers: [{ url: "/" }] });
  app.get("/docs", apiReferenceHeaders, (c) => c.html(`<!doctype html>${<ApiReference title={OPENAPI_INFO.title} />}`));

  app.notFound((c) => errorResponse(c, new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    const appError = toAppError(err);
    if (appError.code === "INTERNAL_ERROR") {
      log.error("unhandled error", { requestId: c.get("requestId"), ...errorFields(err) });
    }
    return errorResponse(c, appError);
  });
  return app;
}
