import { z } from "@hono/zod-openapi";
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from "../../db/vocabulary";

export const WebhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES).openapi({
  description: "What happened (docs/webhooks.md lists each type's `data`: ids and statuses, never addresses)",
});

export const WebhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(WebhookEventTypeSchema),
    enabled: z.boolean(),
    previousSecretUntil: z
      .string()
      .nullable()
      .openapi({ description: "After a rotation: the old secret also signs deliveries until then (24 h)" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("WebhookEndpoint");

export const WebhookEndpointWithSecretSchema = WebhookEndpointSchema.extend({
  secret: z.string().openapi({
    description:
      "`whsec_…` (Standard Webhooks): verify `webhook-signature` with it. Shown only here; rotate to get a new one",
    example: "whsec_…",
  }),
}).openapi("WebhookEndpointWithSecret");

const WebhookUrl = z.string().min(1).max(2048).openapi({
  example: "https://hooks.example.com/hogsend",
  description:
    "https, to a public host: private, loopback and link-local addresses are refused (http and localhost only with `WEBHOOKS_ALLOW_LOCALHOST=true`, which `npm run dev` sets)",
});

export const NewWebhookEndpointSchema = z
  .object({
    url: WebhookUrl,
    events: z.array(WebhookEventTypeSchema).min(1).max(WEBHOOK_EVENT_TYPES.length),
    description: z.string().max(500).optional(),
  })
  .openapi("NewWebhookEndpoint");

export const WebhookEndpointPatchSchema = z
  .object({
    url: WebhookUrl.optional(),
    events: z.array(WebhookEventTypeSchema).min(1).max(WEBHOOK_EVENT_TYPES.length).optional(),
    enabled: z.boolean().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, "give at least one of url, events, enabled")
  .openapi("WebhookEndpointPatch");

export const WebhookDeliverySchema = z
  .object({
    id: z.string().openapi({ description: "The event's id: the `webhook-id` header of every attempt" }),
    type: WebhookEventTypeSchema,
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).openapi({
      description: "`pending` (queued or waiting to retry), `delivered` (a 2xx), `dead` (retries exhausted or refused)",
    }),
    attempts: z.number().int(),
    createdAt: z.string(),
    nextAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    attemptLog: z.array(
      z.object({
        attempt: z.number().int(),
        at: z.string(),
        durationMs: z.number().int(),
        statusCode: z.number().int().nullable().openapi({ description: "null: no answer (timeout, refused address)" }),
        error: z.string().nullable(),
      }),
    ),
  })
  .openapi("WebhookDelivery");

export const WebhookIdParam = z.object({ webhookId: z.string().min(1).max(64) });
