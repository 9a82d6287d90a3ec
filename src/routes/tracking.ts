import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../lib/errors";
import { errorFields, log } from "../lib/log";
import { unsubscribeSecrets } from "../lib/tokens";
import { type TrackingKind, verifyTrackingToken } from "../lib/tracking-tokens";
import { recordEngagement } from "../pipeline/engagement";
import { errorResponses, notFoundResponse, publicSecurity } from "./schemas";

/** The transparent 1×1 GIF (43 bytes). */
const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="), (ch) =>
  ch.charCodeAt(0),
);
const NO_STORE = { "cache-control": "no-store, max-age=0" };

const params = z.object({
  token: z.string().min(1).max(4096).openapi({ description: "The signed token the email's link carries" }),
});

export const trackingRoutes = new OpenAPIHono<AppEnv>();

trackingRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/v1/t/c/{token}",
  operationId: "trackClick",
  tags: ["Tracking"],
  security: publicSecurity,
  summary: "A tracked link in an email: records the click, redirects to its target",
  description:
    "The target is the one the token was signed with (TOKEN_SIGNING_SECRET, or the previous secret while rotating): a changed token is a 404, never a redirect. Answers without waiting for D1; the `email:clicked` event is recorded after the answer (docs/engagement-tracking.md).",
  request: { params },
  responses: {
    302: { description: "Redirect to the link's target (`Location`)" },
    ...notFoundResponse,
    500: errorResponses[500],
  },
});
trackingRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/v1/t/o/{token}",
  operationId: "trackOpen",
  tags: ["Tracking"],
  security: publicSecurity,
  summary: "The open pixel of an email: records the open, answers a 1×1 GIF",
  description:
    "Answers a 43-byte transparent GIF, never cached; the `email:opened` event is recorded after the answer.",
  request: { params },
  responses: {
    200: {
      description: "A 1×1 transparent GIF",
      content: { "image/gif": { schema: z.string().openapi({ format: "binary" }) } },
    },
    ...notFoundResponse,
    500: errorResponses[500],
  },
});

/** Verifies the token, then records the hit after the answer (the redirect waits for no D1 work). */
async function track(c: Context<AppEnv>, kind: TrackingKind) {
  const link = await verifyTrackingToken(unsubscribeSecrets(c.env), kind, c.req.param("token") ?? "");
  if (!link || (kind === "c" && !link.url)) throw new AppError("NOT_FOUND", "Unknown tracking link");
  const deps = c.var.deps;
  const hit = {
    kind: kind === "c" ? ("click" as const) : ("open" as const),
    emailId: link.emailId,
    url: link.url,
    userAgent: c.req.header("user-agent") ?? null,
    ip: c.req.header("cf-connecting-ip") ?? null,
    scannerRanges: deps.tracking.scannerRanges,
    at: new Date(),
  };
  // Started a macrotask later, once the response is built: the redirect never waits on D1.
  const recording = new Promise((resolve) => setTimeout(resolve, 0))
    .then(() => recordEngagement({ ...deps.routing, waitUntil: deps.ingest.waitUntil, webhooks: deps.webhooks }, hit))
    .catch((error) =>
      log.error("engagement not recorded", { emailId: hit.emailId, kind: hit.kind, ...errorFields(error) }),
    );
  c.executionCtx.waitUntil(recording);
  return link;
}

trackingRoutes.get("/v1/t/c/:token", async (c) => {
  const link = await track(c, "c");
  c.header("cache-control", NO_STORE["cache-control"]);
  return c.redirect(link.url!, 302);
});

trackingRoutes.get("/v1/t/o/:token", async (c) => {
  await track(c, "o");
  return c.body(PIXEL, 200, { "content-type": "image/gif", ...NO_STORE });
});
