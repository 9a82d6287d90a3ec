import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { IMPORT_FORMATS, IMPORT_STATUSES, type ImportFormat } from "../../db/schema";
import type { AppEnv } from "../../http/app-env";
import { AppError, describeZodError } from "../../lib/errors";
import { validationHook } from "../../http/validation";
import { importErrorsCsv } from "../../services/imports/error-report";
import {
  cancelImportJob,
  createImportJob,
  getImportJob,
  listImportJobs,
} from "../../services/imports/jobs";
import { bearerSecurity, conflictResponse, CursorParam, errorResponses, LimitParam, notFoundResponse, serialize } from "../schemas";

/** The JSON envelope holds the whole file in memory; bigger files go as a raw body. */
export const MAX_ENVELOPE_BYTES = 10 * 1024 * 1024;
/** Cloudflare's request-body limit (Free and Pro plans): a raw upload can't be bigger. */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

const FileName = z.string().min(1).max(255).openapi({ example: "jan-2025-migration.csv" });

export const ImportEnvelopeSchema = z
  .object({
    format: z.enum(IMPORT_FORMATS),
    data: z.string().min(1).openapi({ example: "externalId,email,plan\nuser_001,ada@example.com,pro" }),
    fileName: FileName.optional(),
  })
  .openapi("ImportEnvelope");

const RAW_CONTENT_TYPES: Record<string, ImportFormat | null> = {
  "text/csv": "csv",
  "application/x-ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "application/json": null, // with ?format=: the raw file; without it: the envelope
  "text/plain": null,
  "application/octet-stream": null,
};

const ImportJobSchema = z
  .object({
    id: z.string(),
    status: z.enum(IMPORT_STATUSES),
    fileName: z.string().nullable(),
    format: z.enum(IMPORT_FORMATS),
    totalRows: z.number().int().nullable().openapi({ description: "Data rows in the file; null until the whole file has been read" }),
    processedRows: z.number().int().openapi({ description: "Rows imported (upserted) so far" }),
    failedRows: z.number().int().openapi({ description: "Rows skipped with an error so far (all of them, not only those listed)" }),
    bytesProcessed: z.number().int(),
    bytesTotal: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the job failed (status `failed`)" }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("ImportJobSummary");

const ImportJobDetailSchema = ImportJobSchema.extend({
  errors: z
    .array(z.object({ row: z.number().int(), error: z.string() }))
    .openapi({ description: "The first 1000 failed rows; `row` is the 1-based data row (a CSV header is not a row)" }),
  errorCount: z.number().int().openapi({ description: "How many rows failed in all" }),
}).openapi("ImportJob");

const JobIdParams = z.object({ jobId: z.string().min(1).max(64) });

const startRoute = createRoute({
  method: "post",
  path: "/v1/admin/contacts/import",
  tags: ["Import & export"],
  summary: "Start a contact import",
  description: [
    "Two forms. **JSON envelope** (`Content-Type: application/json`, no `format` query parameter): `{format, data, fileName?}` with the file as the `data` string, up to 10 MB.",
    "**Raw file**: the request body is the file itself, streamed into storage, up to 100 MB (send `Content-Length`). Used when the `format` query parameter is present or the Content-Type is `text/csv` or `application/x-ndjson`; `fileName` comes from the query.",
    "Processing is asynchronous: poll `GET /v1/admin/contacts/import/{jobId}`.",
  ].join("\n\n"),
  security: bearerSecurity,
  request: {
    query: z.object({
      format: z.enum(IMPORT_FORMATS).optional().openapi({ description: "Raw-file form: how to parse the body" }),
      fileName: FileName.optional().openapi({ description: "Raw-file form: shown in the job (metadata only)" }),
    }),
    body: {
      required: true,
      content: {
        // Plain OpenAPI schemas (not zod) so the route's validator doesn't force one JSON shape: a raw JSON file is valid too.
        "application/json": { schema: { oneOf: [{ $ref: "#/components/schemas/ImportEnvelope" }, { type: "array", items: { type: "object" } }] } },
        "text/csv": { schema: { type: "string", example: "externalId,email,plan\nuser_001,ada@example.com,pro\n" } },
        "application/x-ndjson": { schema: { type: "string", example: '{"externalId":"user_001","properties":{"plan":"pro"}}\n' } },
      },
    },
  },
  responses: {
    202: {
      description: "Job created; processing starts in the background",
      content: { "application/json": { schema: z.object({ jobId: z.string(), status: z.literal("pending") }) } },
    },
    411: errorFor("Raw file without Content-Length"),
    415: errorFor("Unsupported Content-Type for the import"),
    ...errorResponses,
  },
});

function errorFor(description: string) {
  return { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
}

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/import/{jobId}",
  tags: ["Import & export"],
  summary: "Import job status and progress",
  security: bearerSecurity,
  request: { params: JobIdParams },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: ImportJobDetailSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/imports",
  tags: ["Import & export"],
  summary: "List import jobs, newest first",
  security: bearerSecurity,
  request: { query: z.object({ limit: LimitParam(100, 20), cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of jobs",
      content: { "application/json": { schema: z.object({ imports: z.array(ImportJobSchema), nextCursor: z.string().nullable() }) } },
    },
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/v1/admin/contacts/import/{jobId}/cancel",
  tags: ["Import & export"],
  summary: "Cancel a pending or processing import",
  description: "The job stops at once: a chunk in flight is discarded, rows already written stay written, and the counts say how far it got. 409 when the job already ended.",
  security: bearerSecurity,
  request: { params: JobIdParams },
  responses: {
    200: { description: "The cancelled job", content: { "application/json": { schema: ImportJobDetailSchema } } },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

const errorsCsvRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/import/{jobId}/errors.csv",
  tags: ["Import & export"],
  summary: "The failed rows as CSV",
  description:
    "For CSV imports: the file's columns with the original cells, then `row` and `error` (delete those two columns before importing the fixed file, or they become properties). For JSON/NDJSON imports: `data` (the original object), `row`, `error`. The first 1000 failed rows.",
  security: bearerSecurity,
  request: { params: JobIdParams },
  responses: {
    200: { description: "CSV", content: { "text/csv": { schema: { type: "string" } } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminImportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
// The start route names the envelope only inside a plain schema, so register it as a component itself.
adminImportRoutes.openAPIRegistry.register("ImportEnvelope", ImportEnvelopeSchema);

const mediaType = (c: Context) => (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
const isEnvelope = (c: Context) => mediaType(c) === "application/json" && c.req.query("format") === undefined;

// Only the envelope is read into memory, so only it gets the in-memory limit.
adminImportRoutes.use(
  "/v1/admin/contacts/import",
  createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === "POST" && isEnvelope(c)) return bodyLimit({ maxSize: MAX_ENVELOPE_BYTES })(c, next);
    await next();
  }),
);

adminImportRoutes.openapi(startRoute, async (c) => {
  const query = c.req.valid("query");
  if (isEnvelope(c)) {
    const parsed = ImportEnvelopeSchema.safeParse(await readJson(c));
    if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
    const { format, data, fileName } = parsed.data;
    const job = await createImportJob(c.var.deps.imports, { format, fileName, body: data, byteLength: new TextEncoder().encode(data).byteLength });
    return c.json(job, 202);
  }

  const type = mediaType(c);
  if (!(type in RAW_CONTENT_TYPES)) {
    throw new AppError(
      "UNSUPPORTED_MEDIA_TYPE",
      "Send the file as text/csv, application/json or application/x-ndjson (with ?format=), or a JSON envelope {format, data}",
    );
  }
  const format = query.format ?? RAW_CONTENT_TYPES[type];
  if (!format) throw new AppError("VALIDATION_ERROR", "format: required for this Content-Type (csv, json or ndjson)");
  const byteLength = Number(c.req.header("content-length"));
  if (!c.req.header("content-length") || !Number.isSafeInteger(byteLength) || byteLength < 0) {
    throw new AppError("LENGTH_REQUIRED", "A raw file upload needs a Content-Length header (it is streamed straight into storage)");
  }
  if (byteLength === 0 || !c.req.raw.body) throw new AppError("VALIDATION_ERROR", "The file is empty");
  if (byteLength > MAX_UPLOAD_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", "Files over 100 MB can't be uploaded in one request: split them into several imports");
  }
  const job = await createImportJob(c.var.deps.imports, { format, fileName: query.fileName, body: c.req.raw.body, byteLength });
  return c.json(job, 202);
});

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError("BAD_REQUEST", "Malformed JSON body");
  }
}

adminImportRoutes.openapi(listRoute, async (c) => {
  return c.json(serialize(await listImportJobs(c.get("db"), c.req.valid("query"))), 200);
});

adminImportRoutes.openapi(getRoute, async (c) => {
  return c.json(serialize(await getImportJob(c.get("db"), c.req.valid("param").jobId)), 200);
});

adminImportRoutes.openapi(cancelRoute, async (c) => {
  return c.json(serialize(await cancelImportJob(c.get("db"), c.req.valid("param").jobId)), 200);
});

adminImportRoutes.openapi(errorsCsvRoute, async (c) => {
  const { jobId } = c.req.valid("param");
  const body = await importErrorsCsv(c.get("db"), jobId);
  return c.body(body, 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="import-${jobId.replace(/[^a-zA-Z0-9-]/g, "")}-errors.csv"`,
  });
});
