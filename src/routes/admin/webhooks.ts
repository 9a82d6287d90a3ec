import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookSecret,
  updateWebhookEndpoint,
} from "../../services/webhooks/endpoints";
import { errorResponses, jsonBody, jsonBodyErrors, notFoundResponse, scope, serialize } from "../schemas";
import {
  NewWebhookEndpointSchema,
  WebhookEndpointPatchSchema,
  WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema,
  WebhookIdParam,
} from "./webhook-schemas";

const json = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});
const tags = ["Webhooks"];

const createWebhookRoute = createRoute({
  method: "post",
  path: "/v1/admin/webhooks",
  operationId: "createWebhook",
  tags,
  summary: "Add an outbound webhook endpoint",
  description:
    "Events of the listed types are POSTed to `url`, signed per Standard Webhooks with the returned `secret` (shown only here). Audited.",
  ...scope("admin"),
  request: { body: jsonBody(NewWebhookEndpointSchema) },
  responses: {
    201: json("Created", WebhookEndpointWithSecretSchema),
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const listWebhooksRoute = createRoute({
  method: "get",
  path: "/v1/admin/webhooks",
  operationId: "listWebhooks",
  tags,
  summary: "List webhook endpoints (no secrets)",
  ...scope("read"),
  responses: {
    200: json("The endpoints, newest first", z.object({ webhooks: z.array(WebhookEndpointSchema) })),
    ...errorResponses,
  },
});

const getWebhookRoute = createRoute({
  method: "get",
  path: "/v1/admin/webhooks/{webhookId}",
  operationId: "getWebhook",
  tags,
  summary: "One webhook endpoint (no secret)",
  ...scope("read"),
  request: { params: WebhookIdParam },
  responses: { 200: json("The endpoint", WebhookEndpointSchema), ...notFoundResponse, ...errorResponses },
});

const updateWebhookRoute = createRoute({
  method: "patch",
  path: "/v1/admin/webhooks/{webhookId}",
  operationId: "updateWebhook",
  tags,
  summary: "Change an endpoint's url, events or enabled",
  description:
    "A disabled endpoint gets no new events; its pending deliveries are dead-lettered when their turn comes. Audited.",
  ...scope("admin"),
  request: { params: WebhookIdParam, body: jsonBody(WebhookEndpointPatchSchema) },
  responses: {
    200: json("The endpoint", WebhookEndpointSchema),
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const deleteWebhookRoute = createRoute({
  method: "delete",
  path: "/v1/admin/webhooks/{webhookId}",
  operationId: "deleteWebhook",
  tags,
  summary: "Delete an endpoint, its pending deliveries and its delivery log",
  description: "Audited.",
  ...scope("admin"),
  request: { params: WebhookIdParam },
  responses: {
    200: json("Deleted", z.object({ id: z.string(), deleted: z.literal(true) })),
    ...notFoundResponse,
    ...errorResponses,
  },
});

const rotateSecretRoute = createRoute({
  method: "post",
  path: "/v1/admin/webhooks/{webhookId}/rotate-secret",
  operationId: "rotateWebhookSecret",
  tags,
  summary: "Rotate an endpoint's signing secret",
  description:
    "The answer holds the new secret. For 24 h (`previousSecretUntil`) every delivery carries two signatures in `webhook-signature`, one per secret, so receivers can switch at their own pace. Audited.",
  ...scope("admin"),
  request: { params: WebhookIdParam },
  responses: { 200: json("The new secret", WebhookEndpointWithSecretSchema), ...notFoundResponse, ...errorResponses },
});

export const adminWebhookRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminWebhookRoutes.openapi(createWebhookRoute, async (c) => {
  const created = await createWebhookEndpoint(c.get("db"), c.req.valid("json"), c.var.deps.webhookPolicy);
  return c.json(serialize(created), 201);
});

adminWebhookRoutes.openapi(listWebhooksRoute, async (c) =>
  c.json(serialize({ webhooks: await listWebhookEndpoints(c.get("db")) }), 200),
);

adminWebhookRoutes.openapi(getWebhookRoute, async (c) =>
  c.json(serialize(await getWebhookEndpoint(c.get("db"), c.req.valid("param").webhookId)), 200),
);

adminWebhookRoutes.openapi(updateWebhookRoute, async (c) => {
  const { webhookId } = c.req.valid("param");
  const updated = await updateWebhookEndpoint(c.get("db"), webhookId, c.req.valid("json"), c.var.deps.webhookPolicy);
  return c.json(serialize(updated), 200);
});

adminWebhookRoutes.openapi(deleteWebhookRoute, async (c) => {
  const { webhookId } = c.req.valid("param");
  await deleteWebhookEndpoint(c.get("db"), webhookId);
  return c.json({ id: webhookId, deleted: true as const }, 200);
});

adminWebhookRoutes.openapi(rotateSecretRoute, async (c) =>
  c.json(serialize(await rotateWebhookSecret(c.get("db"), c.req.valid("param").webhookId)), 200),
);
