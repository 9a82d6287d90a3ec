import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AUDIT_OUTCOMES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { listAuditEntries } from "../../services/audit-log";
import { CursorParam, errorResponses, IsoDateTime, LimitParam, scope, serialize, toDate } from "../schemas";

const AuditEntrySchema = z
  .object({
    id: z.string(),
    at: z.string(),
    keyId: z.string().openapi({ description: "A stored key's id, or `bootstrap-admin` / `bootstrap-ingest`" }),
    keyName: z.string(),
    method: z.string(),
    route: z.string().openapi({ example: "/v1/admin/contacts/{idOrExternalId}" }),
    action: z.string().openapi({ description: "The operation's operationId", example: "eraseContact" }),
    targetIds: z.array(z.string()).openapi({
      description:
        "The path's ids and the ids the answer reported (job, upload, key); a person's id only as `hmac:<hex>`, the keyed hash erasure uses",
    }),
    counts: z.record(z.string(), z.number()).openapi({
      description: "The numbers the answer reported (`removed.events`, `enrolled`, …)",
      example: { "removed.events": 3 },
    }),
    outcome: z.enum(AUDIT_OUTCOMES).openapi({
      description:
        "`started`: written before the operation ran and not finished (the Worker died mid-request); `ok` (2xx/3xx), `failed` (4xx/5xx), `forbidden` (the key lacked the scope: nothing ran)",
    }),
    status: z.number().int().nullable(),
    requestId: z.string(),
  })
  .openapi("AuditEntry");

const route = createRoute({
  method: "get",
  path: "/v1/admin/audit-log",
  operationId: "listAuditLog",
  tags: ["Keys"],
  summary: "Who changed what, when, and how it ended",
  description:
    "One entry per admin request that changes something (and per one refused for its scope), newest first, keyset-paged with `cursor`. Ids and counts only: no addresses or properties. Entries older than AUDIT_RETENTION_DAYS move to the R2 archive (`archive/audit/`).",
  ...scope("read"),
  request: {
    query: z.object({
      from: IsoDateTime.optional().openapi({ description: "At or after" }),
      to: IsoDateTime.optional().openapi({ description: "At or before" }),
      keyId: z.string().min(1).max(64).optional(),
      action: z.string().min(1).max(100).optional().openapi({ example: "eraseContact" }),
      limit: LimitParam(1000, 100),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of entries",
      content: {
        "application/json": {
          schema: z.object({ entries: z.array(AuditEntrySchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

export const adminAuditLogRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminAuditLogRoutes.openapi(route, async (c) => {
  const { from, to, ...rest } = c.req.valid("query");
  const page = await listAuditEntries(c.get("db"), { ...rest, from: toDate(from), to: toDate(to) });
  return c.json(serialize(page), 200);
});
