import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { EXPORT_FORMATS, exportContacts } from "../../services/contacts-export";
import { ContactSchema, CursorParam, errorResponses, LimitParam, SearchParam, scope } from "../schemas";

export const MAX_EXPORT_ROWS = 10_000;

const CONTENT_TYPES = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8",
} as const;

const ExportedContactSchema = ContactSchema.extend({
  aliases: z.array(z.string()).openapi({ description: "The other ids the person is known by" }),
  topics: z.record(z.string(), z.boolean()).openapi({
    description: "The contact's explicit topic choices (topic key → subscribed); a topic not named has its default",
    example: { "product-updates": false },
  }),
}).openapi("ExportedContact");

const exportRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/export",
  operationId: "exportContacts",
  tags: ["Import & export"],
  summary: "Export contacts (streamed)",
  description: [
    "Streams up to `limit` contacts, oldest first, page by page from the database. `search` matches a substring of the email or externalId (`%` and `_` match literally).",
    "When more contacts follow, the `X-Next-Cursor` header (and `nextCursor` in the JSON body) holds the cursor for the next request.",
    "One row per person. CSV: `externalId`, `email`, `aliases` (the other ids the person is known by, as a JSON array; imports ignore the column), then one column per property key present in the exported contacts, at most 200 (the most common; with more, a last `otherProperties` column holds each row's other properties as a JSON object); non-string values are JSON; then a `topic:<key>` column (`true`, `false`, or empty: no choice) for each topic some exported contact chose on; a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so spreadsheets don't run it (imports remove it again). NDJSON: one contact per line. JSON and NDJSON contacts carry `aliases` and `topics`, their explicit topic choices.",
  ].join("\n\n"),
  ...scope("operate", { audit: true }),
  request: {
    query: z.object({
      format: z.enum(EXPORT_FORMATS).default("json"),
      search: SearchParam,
      limit: LimitParam(MAX_EXPORT_ROWS, MAX_EXPORT_ROWS),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "The contacts",
      headers: { "X-Next-Cursor": { description: "Present when more contacts follow", schema: { type: "string" } } },
      content: {
        "application/json": {
          schema: z.object({ contacts: z.array(ExportedContactSchema), nextCursor: z.string().nullable() }),
        },
        "text/csv": {
          schema: { type: "string", example: "externalId,email,aliases,plan\nuser_001,ada@example.com,,pro\n" },
        },
        "application/x-ndjson": { schema: { type: "string" } },
      },
    },
    ...errorResponses,
  },
});

export const adminExportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminExportRoutes.openapi(exportRoute, async (c) => {
  const query = c.req.valid("query");
  const { body, nextCursor } = await exportContacts(c.get("db"), query);
  const headers: Record<string, string> = { "content-type": CONTENT_TYPES[query.format] };
  if (nextCursor) headers["x-next-cursor"] = nextCursor;
  if (query.format === "csv") headers["content-disposition"] = 'attachment; filename="contacts.csv"';
  return c.body(body, 200, headers);
});
