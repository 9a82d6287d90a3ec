import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/app-env";
import { matchesAnySecret } from "../../http/auth";
import { validationHook } from "../../http/validation";
import { AppError } from "../../lib/errors";
import { type IngestItem, ingestEvents } from "../../pipeline/ingest";
import { bufferEvents } from "../../pipeline/ingest-buffer";
import {
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  PropertiesSchema,
  postHogIdempotencyKey,
  rateLimitedResponse,
} from "../schemas";

const PostHogWebhookSchema = z
  .object({
    event: z.object({
      uuid: z.string().min(1).max(255),
      event: z.string().min(1).max(200),
      distinct_id: z.string().min(1).max(255),
      timestamp: z.string().optional(),
      properties: PropertiesSchema.nullish(),
    }),
    person: z
      .object({ properties: z.object({ email: z.string().nullish() }).loose().nullish() })
      .loose()
      .nullish(),
  })
  .openapi("PostHogWebhook");

const route = createRoute({
  method: "post",
  path: "/v1/webhooks/posthog",
  operationId: "receivePostHogWebhook",
  tags: ["Webhooks"],
  security: [{ postHogSecret: [] }],
  summary: "PostHog webhook destination",
  description:
    "Authenticated by the shared secret in `x-posthog-webhook-secret` (`POSTHOG_WEBHOOK_SECRET`; refused while unset). PostHog's event `uuid` is the idempotency key, so its retries never double-process. Buffered by default (`POSTHOG_WEBHOOK_MODE`): answered `{accepted, eventId}` after one queue send, written within seconds; `sync` answers after the write with `{stored, eventId}`.",
  request: {
    body: jsonBody(PostHogWebhookSchema),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Accepted (buffered), or stored / dropped as a duplicate (sync)",
      content: {
        "application/json": {
          schema: z.object({
            accepted: z.literal(true).optional(),
            stored: z.boolean().optional(),
            eventId: z.string().optional(),
            duplicate: z.literal(true).optional(),
          }),
        },
      },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const requirePostHogSecret = createMiddleware<AppEnv>(async (c, next) => {
  const secret = c.env.POSTHOG_WEBHOOK_SECRET;
  if (!secret) throw new AppError("UNAUTHORIZED", "PostHog webhooks are disabled: POSTHOG_WEBHOOK_SECRET is not set");
  if (!matchesAnySecret(c.req.header("x-posthog-webhook-secret"), [secret])) {
    throw new AppError("UNAUTHORIZED", "Missing or invalid x-posthog-webhook-secret");
  }
  await next();
});

/** PostHog's shapes → the pipeline's: distinct_id is the user, the person's email the address. */
export function fromPostHog(payload: z.infer<typeof PostHogWebhookSchema>): IngestItem {
  const email = payload.person?.properties?.email ?? undefined;
  const timestamp =
    payload.event.timestamp && !Number.isNaN(Date.parse(payload.event.timestamp))
      ? new Date(payload.event.timestamp).toISOString()
      : undefined;
  return {
    event: payload.event.event,
    userId: payload.event.distinct_id,
    userEmail: email && z.email().safeParse(email).success ? email : undefined,
    properties: payload.event.properties ?? {},
    idempotencyKey: postHogIdempotencyKey(payload.event.uuid),
    timestamp,
  };
}

export const postHogWebhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

postHogWebhookRoutes.use("/v1/webhooks/posthog", requirePostHogSecret, bodyLimit({ maxSize: 1024 * 1024 }));

postHogWebhookRoutes.openapi(route, async (c) => {
  const item = fromPostHog(c.req.valid("json"));
  if (c.env.POSTHOG_WEBHOOK_MODE !== "sync") {
    const [accepted] = await bufferEvents(c.var.deps.ingest, [item], "posthog");
    return c.json(accepted!, 202);
  }
  const [result] = await ingestEvents(c.var.deps.ingest, [item], "posthog");
  return c.json(result?.stored ? { stored: true, eventId: result.eventId } : { stored: false }, 202);
});
