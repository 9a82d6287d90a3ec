import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env";
import { validationHook } from "../../lib/http";
import { getContact, listContacts } from "../../services/contacts";
import { bearerSecurity, ContactSchema, CursorParam, errorResponses, LimitParam, notFoundResponse, serialize } from "../schemas";

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts",
  tags: ["Contacts"],
  summary: "List contacts",
  description: "Oldest first, keyset-paged with `cursor`. `search` matches email or externalId; `%` and `_` match literally.",
  security: bearerSecurity,
  request: {
    query: z.object({
      search: z.string().max(320).optional(),
      limit: LimitParam(1000, 50),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of contacts",
      content: {
        "application/json": { schema: z.object({ contacts: z.array(ContactSchema), nextCursor: z.string().nullable() }) },
      },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/{idOrExternalId}",
  tags: ["Contacts"],
  summary: "Get a contact by id or externalId",
  security: bearerSecurity,
  request: { params: z.object({ idOrExternalId: z.string().min(1).max(255) }) },
  responses: {
    200: { description: "The contact", content: { "application/json": { schema: ContactSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminContactRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminContactRoutes.openapi(listRoute, async (c) => {
  const page = await listContacts(c.get("db"), c.req.valid("query"));
  return c.json(serialize(page), 200);
});

adminContactRoutes.openapi(getRoute, async (c) => {
  const contact = await getContact(c.get("db"), c.req.valid("param").idOrExternalId);
  return c.json(serialize(contact), 200);
});
