import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { getContactDetail, listContacts } from "../../services/contacts";
import { getPreferences, updatePreferences } from "../../services/preferences";
import { pathParam } from "../path-params";
import {
  ContactChangeSchema,
  ContactDetailSchema,
  ContactSchema,
  CursorParam,
  ErrorBodySchema,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  SearchParam,
  scope,
  serialize,
} from "../schemas";

const ContactParams = z.object({
  idOrExternalId: pathParam("idOrExternalId", 255).openapi({ description: "Contact id or externalId" }),
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts",
  operationId: "listContacts",
  tags: ["Contacts"],
  summary: "List contacts",
  description:
    "Oldest first, keyset-paged with `cursor`. `search` matches email or externalId; `%` and `_` match literally.",
  ...scope("read"),
  request: {
    query: z.object({
      search: SearchParam,
      limit: LimitParam(1000, 50),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of contacts",
      content: {
        "application/json": {
          schema: z.object({ contacts: z.array(ContactSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/{idOrExternalId}",
  operationId: "getContact",
  tags: ["Contacts"],
  summary: "Get a contact by id or externalId",
  ...scope("read"),
  request: { params: ContactParams },
  responses: {
    200: {
      description: "The contact, with its latest address changes",
      content: { "application/json": { schema: ContactDetailSchema } },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const TopicStateSchema = z
  .object({
    key: z.string(),
    name: z.string(),
    description: z.string(),
    defaultOptIn: z.boolean(),
    subscribed: z.boolean().openapi({ description: "Whether the contact gets this topic's emails now" }),
    choice: z.boolean().nullable().openapi({ description: "The contact's explicit choice; null: the default applies" }),
    updatedAt: z.string().nullable(),
  })
  .openapi("TopicState");

const PreferencesSchema = z
  .object({
    unsubscribed: z.boolean(),
    unsubscribedAt: z.string().nullable(),
    suppressed: z.boolean().openapi({ description: "The contact's address is on the suppression list" }),
    suppressionReason: z.string().nullable().openapi({ example: "hard_bounce" }),
    changes: z
      .array(ContactChangeSchema)
      .openapi({ description: "The latest `unsubscribed` and `suppressed` changes (up to 20), newest first" }),
    topics: z
      .array(TopicStateSchema)
      .openapi({ description: "Every topic (GET /v1/admin/topics) with the contact's state" }),
  })
  .openapi("Preferences");

const getPreferencesRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/{idOrExternalId}/preferences",
  operationId: "getContactPreferences",
  tags: ["Contacts"],
  summary: "A contact's email preferences",
  ...scope("read"),
  request: { params: ContactParams },
  responses: {
    200: { description: "Preferences", content: { "application/json": { schema: PreferencesSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const putPreferencesRoute = createRoute({
  method: "put",
  path: "/v1/admin/contacts/{idOrExternalId}/preferences",
  operationId: "updateContactPreferences",
  tags: ["Contacts"],
  summary: "Unsubscribe or suppress a contact, set its topics (or undo it)",
  description:
    "Unsubscribed or suppressed contacts are never emailed and never enter journeys. `unsubscribed: true` also suppresses the address (reason `unsubscribed`), so no other contact with it is emailed; `unsubscribed: false` lifts both, never a bounce or complaint suppression (`suppressed: false` does). Every change is recorded in `changes`.",
  ...scope("admin", { audit: "batch" }),
  request: {
    params: ContactParams,
    body: jsonBody(
      z
        .object({
          unsubscribed: z.boolean().optional(),
          suppressed: z.boolean().optional(),
          topics: z
            .record(z.string().max(63), z.boolean())
            .optional()
            .openapi({
              description: "Topic key → subscribed (`GET /v1/admin/topics`); an unknown key is a 400",
              example: { "product-updates": false, "weekly-digest": true },
            }),
        })
        .strict(),
    ),
  },
  responses: {
    200: {
      description: "Preferences after the change",
      content: { "application/json": { schema: PreferencesSchema } },
    },
    ...notFoundResponse,
    422: {
      description: "Suppression asked for a contact without an address",
      content: { "application/json": { schema: ErrorBodySchema } },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const adminContactRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminContactRoutes.openapi(listRoute, async (c) => {
  const page = await listContacts(c.get("db"), c.req.valid("query"));
  return c.json(serialize(page), 200);
});

adminContactRoutes.openapi(getRoute, async (c) => {
  const contact = await getContactDetail(c.get("db"), c.req.valid("param").idOrExternalId);
  return c.json(serialize(contact), 200);
});

adminContactRoutes.openapi(getPreferencesRoute, async (c) => {
  return c.json(serialize(await getPreferences(c.var.deps.preferences, c.req.valid("param").idOrExternalId)), 200);
});

adminContactRoutes.openapi(putPreferencesRoute, async (c) => {
  const preferences = await updatePreferences(
    c.var.deps.preferences,
    c.req.valid("param").idOrExternalId,
    c.req.valid("json"),
    { audit: c.var.audit },
  );
  return c.json(serialize(preferences), 200);
});
