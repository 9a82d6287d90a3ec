import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { IMPORT_FORMATS, IMPORT_UPLOAD_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { AppError } from "../../lib/errors";
import {
  abortUpload,
  completeUpload,
  createUpload,
  MAX_PART_BYTES,
  MAX_PARTS,
  uploadPart,
} from "../../services/imports/uploads";
import {
  conflictResponse,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";
import { ImportOptionFields, importOptions } from "./import-options";

const BASE = "/v1/admin/contacts/import/uploads";
const TAGS = ["Import & export"];

/** Part bodies are up to 100 MB: the app's 5 MB admin body limit must not apply to them. */
export const isUploadPartPath = (path: string) =>
  /^\/v1\/admin\/contacts\/import\/uploads\/[^/]+\/parts\/[^/]+$/.test(path);

export const UploadSchema = z
  .object({
    uploadId: z.string(),
    status: z.enum(IMPORT_UPLOAD_STATUSES),
    format: z.enum(IMPORT_FORMATS),
    fileName: z.string().nullable(),
    minPartBytes: z.number().int().openapi({ description: "Every part except the last must be at least this big" }),
    maxPartBytes: z.number().int().openapi({ description: "One part is one request: at most this big" }),
    maxParts: z.number().int(),
    createdAt: z.string(),
    expiresAt: z.string().openapi({ description: "Not completed by then, the upload is aborted by the cron" }),
  })
  .openapi("ImportUpload");

const UploadParams = z.object({ uploadId: z.string().min(1).max(64) });
const PartNumber = z.coerce.number().int().min(1).max(MAX_PARTS);
const UploadedPart = z.object({ partNumber: PartNumber, etag: z.string().min(1).max(256) });

const createUploadRoute = createRoute({
  method: "post",
  path: BASE,
  operationId: "createImportUpload",
  tags: TAGS,
  summary: "Start a multipart upload (files over 100 MB)",
  description: [
    "For files too big for one request. Send the file in parts (`PUT …/parts/{partNumber}`, numbered from 1), then `POST …/complete` with every part's etag: the file becomes one import job, processed like any other.",
    "R2's rules: every part except the last must be the same size, at least 5 MiB (`minPartBytes`); the last may be smaller. A part is at most 100 MB (`maxPartBytes`); up to 10,000 parts. An upload not completed within 24 hours is aborted.",
  ].join("\n\n"),
  ...scope("operate", { audit: "batch" }),
  request: {
    body: jsonBody(
      z
        .object({
          format: z.enum(IMPORT_FORMATS),
          fileName: z.string().min(1).max(255).optional().openapi({ example: "mailchimp-export.csv" }),
          // The same options as a single-request import; the job gets them on completion.
          ...ImportOptionFields,
        })
        // Strict: a misspelt `dryRun` must not turn into a real import.
        .strict(),
    ),
  },
  responses: {
    201: { description: "The upload", content: { "application/json": { schema: UploadSchema } } },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const partRoute = createRoute({
  method: "put",
  path: `${BASE}/{uploadId}/parts/{partNumber}`,
  operationId: "uploadImportPart",
  tags: TAGS,
  summary: "Send one part of a multipart upload",
  description:
    "The body is the part's bytes (any Content-Type), with `Content-Length`, streamed into storage. Sending a part number again replaces that part. Keep the returned `etag` for completion.",
  ...scope("operate", { audit: false }),
  request: {
    params: UploadParams.extend({ partNumber: PartNumber }),
    body: {
      required: true,
      content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
    },
  },
  responses: {
    200: {
      description: "Stored",
      content: {
        "application/json": {
          schema: z.object({ partNumber: z.number().int(), etag: z.string(), size: z.number().int() }),
        },
      },
    },
    411: {
      description: "No Content-Length",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

const completeRoute = createRoute({
  method: "post",
  path: `${BASE}/{uploadId}/complete`,
  operationId: "completeImportUpload",
  tags: TAGS,
  summary: "Complete a multipart upload: it becomes one import job",
  description:
    "Lists every part with the etag its upload answered. The job takes the upload's id; poll `GET /v1/admin/contacts/import/{jobId}`. A refused completion (a missing part, a wrong etag, parts of the wrong size) answers 400 and leaves the upload open; completing twice answers 409.",
  ...scope("operate", { audit: "batch" }),
  request: {
    params: UploadParams,
    body: jsonBody(z.object({ parts: z.array(UploadedPart).min(1).max(MAX_PARTS) })),
  },
  responses: {
    202: {
      description: "The import job, queued",
      content: {
        "application/json": {
          schema: z.object({ jobId: z.string(), status: z.literal("pending"), bytesTotal: z.number().int() }),
        },
      },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const abortRoute = createRoute({
  method: "delete",
  path: `${BASE}/{uploadId}`,
  operationId: "abortImportUpload",
  tags: TAGS,
  summary: "Abort a multipart upload and discard its parts",
  ...scope("operate", { audit: "batch" }),
  request: { params: UploadParams },
  responses: {
    200: { description: "The aborted upload", content: { "application/json": { schema: UploadSchema } } },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminImportUploadRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminImportUploadRoutes.openapi(createUploadRoute, async (c) => {
  const { format, fileName, ...options } = c.req.valid("json");
  const upload = await createUpload(c.var.deps.imports, {
    format,
    fileName,
    options: importOptions(options),
    audit: c.var.audit,
  });
  return c.json(serialize(upload), 201);
});

adminImportUploadRoutes.openapi(partRoute, async (c) => {
  const { uploadId, partNumber } = c.req.valid("param");
  const byteLength = contentLength(c);
  const part = await uploadPart(c.var.deps.imports, { uploadId, partNumber, body: c.req.raw.body!, byteLength });
  return c.json(part, 200);
});

adminImportUploadRoutes.openapi(completeRoute, async (c) => {
  const { uploadId } = c.req.valid("param");
  const { parts } = c.req.valid("json");
  const numbers = parts.map((p) => p.partNumber);
  if (new Set(numbers).size !== numbers.length) throw new AppError("VALIDATION_ERROR", "parts: a part number repeats");
  return c.json(await completeUpload(c.var.deps.imports, { uploadId, parts, audit: c.var.audit }), 202);
});

adminImportUploadRoutes.openapi(abortRoute, async (c) => {
  return c.json(serialize(await abortUpload(c.var.deps.imports, c.req.valid("param").uploadId, c.var.audit)), 200);
});

/** A part is streamed straight into R2, which needs its length up front. */
function contentLength(c: Context): number {
  const header = c.req.header("content-length");
  const length = Number(header);
  if (!header || !Number.isSafeInteger(length) || length < 0) {
    throw new AppError(
      "LENGTH_REQUIRED",
      "A part needs a Content-Length header (it is streamed straight into storage)",
    );
  }
  if (length === 0 || !c.req.raw.body) throw new AppError("VALIDATION_ERROR", "The part is empty");
  if (length > MAX_PART_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", "A part can be at most 100 MB (Cloudflare's request-body limit)");
  }
  return length;
}
