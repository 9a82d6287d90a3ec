import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { IMPORT_FORMATS } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { importErrorsCsv } from "../../services/imports/error-report";
import { createUpload } from "../../services/imports/uploads";
import {
  cancelSuppressionImport,
  createSuppressionImport,
  getSuppressionImport,
  listSuppressionImports,
} from "../../services/suppression-list/import-jobs";
import { pathParam } from "../path-params";
import {
  CursorParam,
  conflictResponse,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";
import {
  envelopeLimit,
  FileName,
  IMPORT_OPTIONS_HEADER,
  importFileRequest,
  importFileResponses,
  receiveImportFile,
} from "./import-file";
import { mergeRawOptions } from "./import-options";
import { UploadSchema } from "./import-uploads";
import {
  SuppressionImportDetailSchema,
  SuppressionImportSchema,
  SuppressionOptionFields,
  SuppressionOptionQuery,
  suppressionImportOptions,
} from "./suppression-options";

const BASE = "/v1/admin/suppressions/import";
const TAGS = ["Suppressions"];

export const SuppressionImportEnvelopeSchema = z
  .object({
    format: z.enum(IMPORT_FORMATS),
    data: z.string().min(1).openapi({ example: "address,reason\nada@example.com,hard_bounce" }),
    fileName: FileName.optional(),
    ...SuppressionOptionFields,
  })
  // Strict: a misspelt `dryRun` must not turn into a real import.
  .strict()
  .openapi("SuppressionImportEnvelope");

const JobIdParams = z.object({ jobId: pathParam("jobId", 64) });

const startRoute = createRoute({
  method: "post",
  path: BASE,
  operationId: "startSuppressionImport",
  tags: TAGS,
  summary: "Import a suppression list",
  description: [
    "Adds the file's addresses to the suppression list: no contact is created or changed, an address already suppressed keeps its entry (an import never lifts or changes one), and the same file twice changes nothing. Rows: `address`, `reason` (`hard_bounce`, `complaint`, `unsubscribed`, `manual`, or another sender's word for one), optional `date` and `source`.",
    "The same two forms as a contact import: a JSON envelope (up to 10 MB) or the raw file (up to 100 MB; bigger through `POST /v1/admin/suppressions/import/uploads`). Options `preset`, `mapping`, `reason`, `source`, `dryRun` as envelope fields, query parameters or the `X-Import-Options` header.",
    "Poll `GET /v1/admin/suppressions/import/{jobId}`: counts suppressed, already suppressed and invalid, with row errors.",
  ].join("\n\n"),
  ...scope("operate", { audit: "batch" }),
  request: importFileRequest({
    envelope: "SuppressionImportEnvelope",
    optionQuery: SuppressionOptionQuery,
    headerExample: '{"preset":"postmark"}',
    csvExample: "address,reason,date\nada@example.com,hard_bounce,2025-01-15\n",
    ndjsonExample: '{"address":"ada@example.com","reason":"complaint"}\n',
  }),
  responses: importFileResponses,
});

const createUploadRoute = createRoute({
  method: "post",
  path: `${BASE}/uploads`,
  operationId: "createSuppressionImportUpload",
  tags: TAGS,
  summary: "Start a multipart upload of a suppression list (files over 100 MB)",
  description:
    "Like `POST /v1/admin/contacts/import/uploads`, with the suppression import's options: send the parts and complete it at `/v1/admin/contacts/import/uploads/{uploadId}/…`; the job it becomes is a suppression import (poll `GET /v1/admin/suppressions/import/{jobId}`).",
  ...scope("operate", { audit: "batch" }),
  request: {
    body: jsonBody(
      z.object({ format: z.enum(IMPORT_FORMATS), fileName: FileName.optional(), ...SuppressionOptionFields }).strict(),
    ),
  },
  responses: {
    201: { description: "The upload", content: { "application/json": { schema: UploadSchema } } },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}`,
  operationId: "getSuppressionImport",
  tags: TAGS,
  summary: "Suppression import status, counts and row errors",
  ...scope("read"),
  request: { params: JobIdParams },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: SuppressionImportDetailSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/suppressions/imports",
  operationId: "listSuppressionImports",
  tags: TAGS,
  summary: "List suppression imports, newest first",
  ...scope("read"),
  request: { query: z.object({ limit: LimitParam(100, 20), cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of jobs",
      content: {
        "application/json": {
          schema: z.object({ imports: z.array(SuppressionImportSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: `${BASE}/{jobId}/cancel`,
  operationId: "cancelSuppressionImport",
  tags: TAGS,
  summary: "Cancel a pending or processing suppression import",
  description: "Addresses already suppressed stay suppressed. 409 when the job already ended.",
  ...scope("operate", { audit: "batch" }),
  request: { params: JobIdParams },
  responses: {
    200: {
      description: "The cancelled job",
      content: { "application/json": { schema: SuppressionImportDetailSchema } },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

const errorsCsvRoute = createRoute({
  method: "get",
  path: `${BASE}/{jobId}/errors.csv`,
  operationId: "getSuppressionImportErrorsCsv",
  tags: TAGS,
  summary: "The invalid rows as CSV",
  description:
    "For CSV files: the file's columns with the original cells, then `row` and `error`; for JSON/NDJSON: `data`, `row`, `error`. The first 1000 invalid rows.",
  ...scope("read"),
  request: { params: JobIdParams },
  responses: {
    200: { description: "CSV", content: { "text/csv": { schema: { type: "string" } } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminSuppressionImportRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminSuppressionImportRoutes.openAPIRegistry.register("SuppressionImportEnvelope", SuppressionImportEnvelopeSchema);
adminSuppressionImportRoutes.use(BASE, envelopeLimit);

adminSuppressionImportRoutes.openapi(startRoute, async (c) => {
  const rawOptions = mergeRawOptions(c.req.valid("query"), c.req.header(IMPORT_OPTIONS_HEADER));
  const file = await receiveImportFile(c, SuppressionImportEnvelopeSchema, `${BASE}/uploads`);
  const options = suppressionImportOptions({ ...file.envelopeOptions, ...rawOptions });
  return c.json(await createSuppressionImport(c.var.deps.imports, { ...file, options, audit: c.var.audit }), 202);
});

adminSuppressionImportRoutes.openapi(createUploadRoute, async (c) => {
  const { format, fileName, ...options } = c.req.valid("json");
  const upload = await createUpload(c.var.deps.imports, {
    format,
    fileName,
    options: { ...suppressionImportOptions(options), kind: "suppressions" },
    audit: c.var.audit,
  });
  return c.json(serialize(upload), 201);
});

adminSuppressionImportRoutes.openapi(listRoute, async (c) => {
  return c.json(serialize(await listSuppressionImports(c.get("db"), c.req.valid("query"))), 200);
});

adminSuppressionImportRoutes.openapi(getRoute, async (c) => {
  return c.json(serialize(await getSuppressionImport(c.get("db"), c.req.valid("param").jobId)), 200);
});

adminSuppressionImportRoutes.openapi(cancelRoute, async (c) => {
  return c.json(serialize(await cancelSuppressionImport(c.get("db"), c.req.valid("param").jobId, c.var.audit)), 200);
});

adminSuppressionImportRoutes.openapi(errorsCsvRoute, async (c) => {
  const { jobId } = c.req.valid("param");
  await getSuppressionImport(c.get("db"), jobId); // 404 for a contact import's id
  return c.body(await importErrorsCsv(c.get("db"), jobId), 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="suppressions-${jobId.replace(/[^a-zA-Z0-9-]/g, "")}-errors.csv"`,
  });
});
