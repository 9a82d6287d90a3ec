import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { WEBHOOK_DELIVERY_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { listWebhookDeliveries, resendWebhookDelivery } from "../../services/webhooks/deliveries";
import { CursorParam, errorResponses, LimitParam, notFoundResponse, scope, serialize } from "../schemas";
import { WebhookDeliverySchema, WebhookIdParam } from "./webhook-schemas";

const listDeliveriesRoute = createRoute({
  method: "get",
  path: "/v1/admin/webhooks/{webhookId}/deliveries",
  operationId: "listWebhookDeliveries",
  tags: ["Webhooks"],
  summary: "An endpoint's deliveries and every attempt",
  description: "Newest first, each with its attempts (time, duration, HTTP status or error).",
  ...scope("read"),
  request: {
    params: WebhookIdParam,
    query: z.object({
      status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
      limit: LimitParam(100, 20),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of deliveries",
      content: {
        "application/json": {
          schema: z.object({ deliveries: z.array(WebhookDeliverySchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const resendDeliveryRoute = createRoute({
  method: "post",
  path: "/v1/admin/webhooks/{webhookId}/deliveries/{deliveryId}/resend",
  operationId: "resendWebhookDelivery",
  tags: ["Webhooks"],
  summary: "Send a delivery again",
  description:
    "Delivered or dead-lettered alike: it is queued now with a fresh retry schedule and the same `webhook-id`. Audited.",
  ...scope("admin"),
  request: { params: WebhookIdParam.extend({ deliveryId: z.string().min(1).max(64) }) },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: WebhookDeliverySchema } },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminWebhookDeliveryRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminWebhookDeliveryRoutes.openapi(listDeliveriesRoute, async (c) => {
  const page = await listWebhookDeliveries(c.get("db"), c.req.valid("param").webhookId, c.req.valid("query"));
  return c.json(serialize(page), 200);
});

adminWebhookDeliveryRoutes.openapi(resendDeliveryRoute, async (c) => {
  const { webhookId, deliveryId } = c.req.valid("param");
  return c.json(serialize(await resendWebhookDelivery(c.var.deps.webhooks, webhookId, deliveryId)), 202);
});
