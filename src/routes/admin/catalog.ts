import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { templateListing } from "../../emails/registry";
import { topics } from "../../emails/topics";
import type { AppEnv } from "../../http/app-env";
import { errorResponses, scope } from "../schemas";

const TemplateSchema = z
  .object({
    key: z.string().openapi({ example: "password-reset" }),
    topic: z.string().nullable().openapi({ description: "The topic its emails belong to (null: transactional, none)" }),
    transactional: z
      .boolean()
      .openapi({ description: "Sent despite unsubscribes and topic opt-outs, never suppressions" }),
    dataSchema: z
      .record(z.string(), z.unknown())
      .openapi({ description: "JSON Schema of the `data` POST /v1/emails takes for it" }),
  })
  .openapi("Template");

const TopicSchema = z
  .object({
    key: z.string().openapi({ example: "product-updates" }),
    name: z.string(),
    description: z.string(),
    defaultOptIn: z.boolean().openapi({
      description: "true: sent unless the contact said no (opt-out topic); false: only after an explicit yes",
    }),
  })
  .openapi("Topic");

const templatesRoute = createRoute({
  method: "get",
  path: "/v1/admin/templates",
  operationId: "listTemplates",
  tags: ["Emails"],
  summary: "Email templates, with their topic and data schema",
  ...scope("read"),
  responses: {
    200: {
      description: "Every template defined in code",
      content: { "application/json": { schema: z.object({ templates: z.array(TemplateSchema) }) } },
    },
    ...errorResponses,
  },
});

const topicsRoute = createRoute({
  method: "get",
  path: "/v1/admin/topics",
  operationId: "listTopics",
  tags: ["Emails"],
  summary: "Email topics a contact can opt in to or out of",
  ...scope("read"),
  responses: {
    200: {
      description: "Every topic defined in code, in the preference centre's order",
      content: { "application/json": { schema: z.object({ topics: z.array(TopicSchema) }) } },
    },
    ...errorResponses,
  },
});

export const adminCatalogRoutes = new OpenAPIHono<AppEnv>();

adminCatalogRoutes.openapi(templatesRoute, (c) => c.json({ templates: templateListing() }, 200));

adminCatalogRoutes.openapi(topicsRoute, (c) =>
  c.json(
    { topics: topics.map(({ key, name, description, defaultOptIn }) => ({ key, name, description, defaultOptIn })) },
    200,
  ),
);
