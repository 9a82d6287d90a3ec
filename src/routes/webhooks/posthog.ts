import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/app-env";
import { matchesAnySecret } from "../../http/auth";
import { validationHook } from "../../http/validation";
import { AppError, describeZodError } from "../../lib/errors";
import { ingestEvents } from "../../pipeline/ingest";
import { bufferEvents } from "../../pipeline/ingest-buffer";
import { DESTINATION_HELP, unreadablePayloadMessage } from "../../services/posthog/formats";
import { fromPostHog } from "../../services/posthog/map";
import { errorResponses, jsonBody, jsonBodyErrors, postHogIdempotencyKey, rateLimitedResponse } from "../schemas";

/** PostHog caps an event at 1 MB; the person rides along. */
const BODY_MAX_BYTES = 1536 * 1024;

// PostHog accepts any properties, so no per-event cap refuses them here: the mapping trims instead.
const AnyProperties = z.record(z.string(), z.unknown());

const PostHogWebhookSchema = z
  .object({
    event: z
      .object({
        uuid: z.string().min(1).max(255),
        event: z.string().min(1).max(200),
        distinct_id: z.string().min(1).max(255),
        timestamp: z.string().optional(),
        properties: AnyProperties.nullish(),
      })
      .loose(),
    person: z.object({ properties: AnyProperties.nullish() }).loose().nullish(),
  })
  .openapi("PostHogWebhook", {
    description: `The default body of PostHog's "HTTP Webhook" destination. ${DESTINATION_HELP}.`,
  });

const AcceptedSchema = z.object({
  accepted: z.literal(true).optional(),
  stored: z.boolean().optional(),
  eventId: z.string().optional(),
  duplicate: z.literal(true).optional(),
  anonymous: z.literal(true).optional().openapi({
    description: "An unidentified visitor's event: stored, no contact, no journey (`POSTHOG_ANONYMOUS_EVENTS`)",
  }),
  trimmed: z.array(z.string()).optional().openapi({
    description:
      "Properties removed to fit the caps (largest first; `$set.<key>` for contact properties); the stored event lists them under `$trimmed`",
  }),
  contactUpdate: z.literal("skipped_properties_limit").optional().openapi({
    description: "Sync mode: the contact would pass its property caps, so its properties were left as they were",
  }),
});

const route = createRoute({
  method: "post",
  path: "/v1/webhooks/posthog",
  operationId: "receivePostHogWebhook",
  tags: ["Webhooks"],
  security: [{ postHogSecret: [] }],
  summary: "PostHog webhook destination",
  description:
    "Authenticated by the shared secret in `x-posthog-webhook-secret` (`POSTHOG_WEBHOOK_SECRET`; refused while unset). PostHog's event `uuid` is the idempotency key, so its retries never double-process. Contacts follow PostHog's person model (`person.properties`, `$set`, `$set_once`, `$unset`; no `$…` keys unless `POSTHOG_CONTACT_PROPERTIES` lists them); an unidentified visitor's event is stored without a contact or journey; the address is never set unless `POSTHOG_EMAIL_POLICY` says so (docs/posthog.md). Buffered by default (`POSTHOG_WEBHOOK_MODE`): answered `{accepted, eventId}` after one queue send, written within seconds; `sync` answers after the write with `{stored, eventId}`.",
  request: { body: jsonBody(PostHogWebhookSchema) },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Accepted (buffered), or stored / dropped as a duplicate (sync)",
      content: { "application/json": { schema: AcceptedSchema } },
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

export const postHogWebhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

postHogWebhookRoutes.use("/v1/webhooks/posthog", requirePostHogSecret, bodyLimit({ maxSize: BODY_MAX_BYTES }));

postHogWebhookRoutes.openapi(
  route,
  async (c) => {
    const payload = c.req.valid("json");
    const { trimmed, ...mapped } = fromPostHog(payload, c.var.deps.postHog);
    const item = { ...mapped, idempotencyKey: postHogIdempotencyKey(payload.event.uuid) };
    const notes = { ...(item.anonymous && { anonymous: true as const }), ...(trimmed.length > 0 && { trimmed }) };
    if (c.env.POSTHOG_WEBHOOK_MODE !== "sync") {
      const [accepted] = await bufferEvents(c.var.deps.ingest, [item], "posthog");
      return c.json({ ...accepted!, ...("duplicate" in accepted! ? {} : notes) }, 202);
    }
    const [result] = await ingestEvents(c.var.deps.ingest, [item], "posthog");
    if (!result?.stored) return c.json({ stored: false }, 202);
    const refused = result.contactUpdate ? { contactUpdate: result.contactUpdate } : {};
    return c.json({ stored: true, eventId: result.eventId, ...notes, ...refused }, 202);
  },
  // A body in another shape says what to configure in PostHog instead.
  (result) => {
    if (result.success) return undefined;
    const body = (result as { data?: unknown }).data;
    throw new AppError("VALIDATION_ERROR", unreadablePayloadMessage(body, describeZodError(result.error)));
  },
);
