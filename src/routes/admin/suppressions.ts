import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { callerName } from "../../http/auth";
import { validationHook } from "../../http/validation";
import { MAX_EMAIL_LENGTH } from "../../lib/sql";
import { bulkSuppress, MAX_BULK_ADDRESSES } from "../../services/suppression-list/bulk";
import { liftSuppression } from "../../services/suppression-list/lift";
import { exportSuppressions, listSuppressions, SUPPRESSION_EXPORT_FORMATS } from "../../services/suppression-list/list";
import { pathParam } from "../path-params";
import {
  conflictResponse,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";
import { SuppressionReasonSchema, SuppressionSource } from "./suppression-options";

const TAGS = ["Suppressions"];
export const MAX_SUPPRESSION_EXPORT_ROWS = 100_000;

const SuppressionSchema = z
  .object({
    address: z.string().openapi({ description: "The address (trimmed, lowercased), or an erased person's keyed hash" }),
    erased: z.boolean().openapi({ description: "The entry is an erased person's: `address` is its keyed hash" }),
    reason: z.string().openapi({ example: "hard_bounce" }),
    source: z.string().nullable().openapi({ description: "Where an imported or bulk-added entry came from" }),
    createdAt: z.string(),
  })
  .openapi("Suppression");

const Filters = {
  reason: z.string().min(1).max(100).optional().openapi({ example: "complaint" }),
  source: z.string().min(1).max(100).optional().openapi({ example: "postmark" }),
  address: z.string().min(1).max(MAX_EMAIL_LENGTH).optional().openapi({
    description: "Exactly this address (compared trimmed and lowercased; an erased person's is found by its hash)",
  }),
};
const Cursor = z
  .string()
  .max(MAX_EMAIL_LENGTH + 80)
  .optional()
  .openapi({
    description: "Opaque cursor: the `nextCursor` of the previous page",
  });

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/suppressions",
  operationId: "listSuppressions",
  tags: TAGS,
  summary: "List the suppression list",
  description:
    "In address order, keyset-paged with `cursor`; filtered by `reason` and `source`; `address` finds one address.",
  ...scope("read"),
  request: { query: z.object({ ...Filters, limit: LimitParam(1000, 100), cursor: Cursor }) },
  responses: {
    200: {
      description: "A page of suppressions",
      content: {
        "application/json": {
          schema: z.object({ suppressions: z.array(SuppressionSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const exportRoute = createRoute({
  method: "get",
  path: "/v1/admin/suppressions/export",
  operationId: "exportSuppressions",
  tags: TAGS,
  summary: "Export the suppression list (streamed)",
  description: [
    "Streams up to `limit` entries in address order, page by page; when more follow, `X-Next-Cursor` holds the cursor for the next request (the CLI follows it). Same filters as the list.",
    "CSV columns `address,reason,source,createdAt` (cells escaped like the contact export's), NDJSON one entry per line. An erased person's entry is its keyed hash, never an address. The file imports back as it is (`POST /v1/admin/suppressions/import`).",
  ].join("\n\n"),
  ...scope("operate", { audit: true }),
  request: {
    query: z.object({
      format: z.enum(SUPPRESSION_EXPORT_FORMATS).default("csv"),
      ...Filters,
      limit: LimitParam(MAX_SUPPRESSION_EXPORT_ROWS, MAX_SUPPRESSION_EXPORT_ROWS),
      cursor: Cursor,
    }),
  },
  responses: {
    200: {
      description: "The entries",
      headers: { "X-Next-Cursor": { description: "Present when more entries follow", schema: { type: "string" } } },
      content: {
        "text/csv": { schema: { type: "string", example: "address,reason,source,createdAt\n" } },
        "application/x-ndjson": { schema: { type: "string" } },
      },
    },
    ...errorResponses,
  },
});

const bulkRoute = createRoute({
  method: "post",
  path: "/v1/admin/suppressions",
  operationId: "suppressAddresses",
  tags: TAGS,
  summary: "Suppress up to 1,000 addresses",
  description:
    "One D1 round trip. An address already suppressed (in clear, or an erased person's hash) keeps its entry; invalid addresses are listed by index and skipped, the others are suppressed.",
  ...scope("operate", { audit: "batch" }),
  request: {
    body: jsonBody(
      z
        .object({
          addresses: z.array(z.string().max(MAX_EMAIL_LENGTH)).min(1).max(MAX_BULK_ADDRESSES),
          reason: SuppressionReasonSchema.default("manual"),
          source: SuppressionSource.optional().openapi({ description: "Default `api`" }),
        })
        .strict(),
    ),
  },
  responses: {
    200: {
      description: "What happened",
      content: {
        "application/json": {
          schema: z.object({
            suppressed: z.number().int(),
            alreadySuppressed: z.number().int(),
            invalid: z.array(z.object({ index: z.number().int(), address: z.string(), error: z.string() })),
          }),
        },
      },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const liftRoute = createRoute({
  method: "delete",
  path: "/v1/admin/suppressions/{address}",
  operationId: "liftSuppression",
  tags: TAGS,
  summary: "Lift an address's suppression",
  description:
    "Lifts it in clear and hashed. A complaint needs `force=true` (409 without). The lift is recorded (who, when, the entry), and each contact with the address gets a `suppressed` change (its preferences' `changes`).",
  ...scope("admin", { audit: "batch" }),
  request: {
    params: z.object({ address: pathParam("address", MAX_EMAIL_LENGTH) }),
    query: z.object({
      force: z.enum(["true", "false"]).optional().openapi({ description: "`true`: lift a complaint too" }),
    }),
  },
  responses: {
    200: {
      description: "The entries lifted",
      content: {
        "application/json": {
          schema: z.object({
            lifted: z.array(SuppressionSchema.omit({ erased: true })),
            forced: z.boolean(),
            liftedBy: z.string(),
            liftedAt: z.string(),
          }),
        },
      },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminSuppressionRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminSuppressionRoutes.openapi(listRoute, async (c) => {
  return c.json(serialize(await listSuppressions(c.var.deps.preferences, c.req.valid("query"))), 200);
});

adminSuppressionRoutes.openapi(exportRoute, async (c) => {
  const query = c.req.valid("query");
  const { body, nextCursor } = await exportSuppressions(c.var.deps.preferences, query);
  const headers: Record<string, string> = {
    "content-type": query.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
  };
  if (nextCursor) headers["x-next-cursor"] = nextCursor;
  if (query.format === "csv") headers["content-disposition"] = 'attachment; filename="suppressions.csv"';
  return c.body(body, 200, headers);
});

adminSuppressionRoutes.openapi(bulkRoute, async (c) => {
  return c.json(await bulkSuppress(c.var.deps.preferences, { ...c.req.valid("json"), audit: c.var.audit }), 200);
});

adminSuppressionRoutes.openapi(liftRoute, async (c) => {
  const lifted = await liftSuppression(c.var.deps.preferences, {
    address: c.req.valid("param").address,
    force: c.req.valid("query").force === "true",
    by: callerName(c),
    audit: c.var.audit,
  });
  return c.json(serialize(lifted), 200);
});
