import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { IMPORT_FORMATS, IMPORT_PRESETS, IMPORT_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { importErrorsCsv } from "../../services/imports/error-report";
import { cancelImportJob, getImportJob, listImportJobs } from "../../services/imports/jobs";
import { pathParam } from "../path-params";
import {
  CursorParam,
  conflictResponse,
  errorResponses,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";
import { MappingSchema, TypesSchema } from "./import-options";

const ImportJobSchema = z
  .object({
    id: z.string(),
    status: z.enum(IMPORT_STATUSES),
    fileName: z.string().nullable(),
    format: z.enum(IMPORT_FORMATS),
    totalRows: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Data rows in the file; null until the whole file has been read" }),
    processedRows: z
      .number()
      .int()
      .openapi({ description: "Rows imported (upserted) so far; in a dry run, rows that would be" }),
    failedRows: z
      .number()
      .int()
      .openapi({ description: "Rows skipped with an error so far (all of them, not only those listed)" }),
    bytesProcessed: z.number().int(),
    bytesTotal: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the job failed (status `failed`)" }),
    dryRun: z.boolean().openapi({ description: "A dry run: nothing was or will be written to contacts" }),
    preset: z.enum(IMPORT_PRESETS).nullable(),
    mapping: MappingSchema.nullable(),
    types: TypesSchema.nullable(),
    wouldCreate: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Dry runs: valid rows whose externalId is not a contact yet (null otherwise)" }),
    wouldUpdate: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Dry runs: valid rows that would update an existing contact (null otherwise)" }),
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

const JobIdParams = z.object({ jobId: pathParam("jobId", 64) });

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/contacts/import/{jobId}",
  operationId: "getImportJob",
  tags: ["Import & export"],
  summary: "Import job status and progress",
  ...scope("read"),
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
  operationId: "listImportJobs",
  tags: ["Import & export"],
  summary: "List import jobs, newest first",
  ...scope("read"),
  request: { query: z.object({ limit: LimitParam(100, 20), cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of jobs",
      content: {
        "application/json": {
          schema: z.object({ imports: z.array(ImportJobSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/v1/admin/contacts/import/{jobId}/cancel",
  operationId: "cancelImportJob",
  tags: ["Import & export"],
  summary: "Cancel a pending or processing import",
  description:
    "The job stops at once: a chunk in flight is discarded, rows already written stay written, and the counts say how far it got. 409 when the job already ended.",
  ...scope("operate", { audit: "batch" }),
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
  operationId: "getImportJobErrorsCsv",
  tags: ["Import & export"],
  summary: "The failed rows as CSV",
  description:
    "For CSV imports: the file's columns with the original cells, then `row` and `error` (delete those two columns before importing the fixed file, or they become properties). For JSON/NDJSON imports: `data` (the original object), `row`, `error`. The first 1000 failed rows.",
  ...scope("read"),
  request: { params: JobIdParams },
  responses: {
    200: { description: "CSV", content: { "text/csv": { schema: { type: "string" } } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminImportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminImportRoutes.openapi(listRoute, async (c) => {
  return c.json(serialize(await listImportJobs(c.get("db"), c.req.valid("query"))), 200);
});

adminImportRoutes.openapi(getRoute, async (c) => {
  return c.json(serialize(await getImportJob(c.get("db"), c.req.valid("param").jobId)), 200);
});

adminImportRoutes.openapi(cancelRoute, async (c) => {
  return c.json(serialize(await cancelImportJob(c.get("db"), c.req.valid("param").jobId, c.var.audit)), 200);
});

adminImportRoutes.openapi(errorsCsvRoute, async (c) => {
  const { jobId } = c.req.valid("param");
  const body = await importErrorsCsv(c.get("db"), jobId);
  return c.body(body, 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="import-${jobId.replace(/[^a-zA-Z0-9-]/g, "")}-errors.csv"`,
  });
});
