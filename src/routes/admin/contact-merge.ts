import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { mergeContacts } from "../../services/identity/merge";
import {
  conflictResponse,
  ErrorBodySchema,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  notFoundResponse,
  scope,
} from "../schemas";

const ContactRef = z.string().min(1).max(255).openapi({ description: "Contact id, externalId or alias" });
const Brief = z.object({ id: z.string(), externalId: z.string() });

const MergeResultSchema = z
  .object({
    dryRun: z.boolean(),
    mergeId: z
      .string()
      .nullable()
      .openapi({ description: "The merge record (the contact's `merges`); null in a dry run" }),
    from: Brief,
    into: Brief,
    moved: z
      .object({
        events: z.number().int(),
        emails: z.number().int(),
        enrollments: z.number().int(),
        aliases: z.number().int().openapi({ description: "`from`'s externalId and its own aliases" }),
        changes: z.number().int().openapi({ description: "Address and opt-out history rows" }),
      })
      .openapi({ description: "What moved to `into` (in a dry run: what would)" }),
    endedEnrollments: z.number().int().openapi({
      description: "Running enrollments of `from` in a journey `into` is also running: they end (`merged`), one stays",
    }),
    filled: z.object({
      properties: z.array(z.string()).openapi({ description: "Property keys `into` lacked, taken from `from`" }),
      email: z.boolean().openapi({ description: "`into` had no address and takes `from`'s" }),
    }),
  })
  .openapi("ContactMergeResult");

const route = createRoute({
  method: "post",
  path: "/v1/admin/contacts/merge",
  operationId: "mergeContacts",
  tags: ["Contacts"],
  summary: "Merge two contacts into one person",
  description:
    "`into` keeps its values and fills missing properties and address from `from`; `from`'s events, emails, enrollments and address/opt-out history move to `into` (of two running enrollments in one journey, `into`'s stays and `from`'s ends as `merged`); `from`'s externalId and aliases become `into`'s aliases, so later events and import rows for them land on `into`. An unsubscribe of either, or a suppression of `from`'s address, covers the merged person. Recorded under the contact's `merges`. `dryRun: true` answers with what would move and writes nothing. One D1 round trip for the merge, whatever the number of rows that move.",
  ...scope("admin", { audit: "batch" }),
  request: {
    body: jsonBody(z.object({ from: ContactRef, into: ContactRef, dryRun: z.boolean().optional() }).strict()),
  },
  responses: {
    200: {
      description: "Merged (or, dry run, what would be)",
      content: { "application/json": { schema: MergeResultSchema } },
    },
    ...notFoundResponse,
    ...conflictResponse,
    422: {
      description: "`from` and `into` are already the same person",
      content: { "application/json": { schema: ErrorBodySchema } },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const adminContactMergeRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminContactMergeRoutes.openapi(route, async (c) =>
  c.json(await mergeContacts(c.var.deps.merge, { ...c.req.valid("json"), audit: c.var.audit }), 200),
);
