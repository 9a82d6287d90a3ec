import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { IMPORT_FORMATS, type ImportFormat } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { AppError, describeZodError } from "../../lib/errors";
import { createImportJob } from "../../services/imports/jobs";
import { errorResponses, scope } from "../schemas";
import {
  IMPORT_OPTIONS_HEADER,
  ImportOptionFields,
  ImportOptionQuery,
  importOptions,
  rawImportOptions,
} from "./import-options";

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
    ...ImportOptionFields,
  })
  // Strict: a misspelt `dryRun` must not turn into a real import.
  .strict()
  .openapi("ImportEnvelope");

const RAW_CONTENT_TYPES: Record<string, ImportFormat | null> = {
  "text/csv": "csv",
  "application/x-ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "application/json": null, // with ?format=: the raw file; without it: the envelope
  "text/plain": null,
  "application/octet-stream": null,
};

const startRoute = createRoute({
  method: "post",
  path: "/v1/admin/contacts/import",
  operationId: "startContactImport",
  tags: ["Import & export"],
  summary: "Start a contact import",
  description: [
    "Two forms. **JSON envelope** (`Content-Type: application/json`, no `format` query parameter): `{format, data, fileName?}` with the file as the `data` string, up to 10 MB.",
    "**Raw file**: the request body is the file itself, streamed into storage, up to 100 MB (send `Content-Length`). Used when the `format` query parameter is present or the Content-Type is `text/csv` or `application/x-ndjson`; `fileName` comes from the query.",
    "Options: `preset`, `mapping`, `types`, `dryRun` as envelope fields; for a raw file, as query parameters (`mapping` and `types` as JSON text) or as one JSON object in the `X-Import-Options` header (a query parameter wins over the header's field).",
    "Bigger files: a multipart upload (`POST /v1/admin/contacts/import/uploads`), or the `hogsend` CLI, which picks the form by size.",
    "Processing is asynchronous: poll `GET /v1/admin/contacts/import/{jobId}`.",
  ].join("\n\n"),
  ...scope("operate"),
  request: {
    query: z.object({
      format: z.enum(IMPORT_FORMATS).optional().openapi({ description: "Raw-file form: how to parse the body" }),
      fileName: FileName.optional().openapi({ description: "Raw-file form: shown in the job (metadata only)" }),
      ...ImportOptionQuery,
    }),
    headers: z.object({
      [IMPORT_OPTIONS_HEADER]: z
        .string()
        .optional()
        .openapi({ description: "Raw-file form: the options as a JSON object", example: '{"preset":"mailchimp"}' }),
    }),
    body: {
      required: true,
      content: {
        // Plain OpenAPI schemas (not zod) so the route's validator doesn't force one JSON shape: a raw JSON file is valid too.
        "application/json": {
          schema: {
            oneOf: [{ $ref: "#/components/schemas/ImportEnvelope" }, { type: "array", items: { type: "object" } }],
          },
        },
        "text/csv": { schema: { type: "string", example: "externalId,email,plan\nuser_001,ada@example.com,pro\n" } },
        "application/x-ndjson": {
          schema: { type: "string", example: '{"externalId":"user_001","properties":{"plan":"pro"}}\n' },
        },
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

export const adminImportStartRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminImportStartRoutes.openAPIRegistry.register("ImportEnvelope", ImportEnvelopeSchema);

const mediaType = (c: Context) => (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
const isEnvelope = (c: Context) => mediaType(c) === "application/json" && c.req.query("format") === undefined;

// Only the envelope is read into memory, so only it gets the in-memory limit.
adminImportStartRoutes.use(
  "/v1/admin/contacts/import",
  createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === "POST" && isEnvelope(c)) return bodyLimit({ maxSize: MAX_ENVELOPE_BYTES })(c, next);
    await next();
  }),
);

adminImportStartRoutes.openapi(startRoute, async (c) => {
  const query = c.req.valid("query");
  const rawOptions = rawImportOptions(query, c.req.header(IMPORT_OPTIONS_HEADER));
  if (isEnvelope(c)) {
    const parsed = ImportEnvelopeSchema.safeParse(await readJson(c));
    if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
    const { format, data, fileName, ...options } = parsed.data;
    const job = await createImportJob(c.var.deps.imports, {
      format,
      fileName,
      options: importOptions({ ...options, ...rawOptions }),
      body: data,
      byteLength: new TextEncoder().encode(data).byteLength,
    });
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
    throw new AppError(
      "LENGTH_REQUIRED",
      "A raw file upload needs a Content-Length header (it is streamed straight into storage)",
    );
  }
  if (byteLength === 0 || !c.req.raw.body) throw new AppError("VALIDATION_ERROR", "The file is empty");
  if (byteLength > MAX_UPLOAD_BYTES) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      "Files over 100 MB can't be uploaded in one request: send them as a multipart upload (POST /v1/admin/contacts/import/uploads), or use the hogsend CLI",
    );
  }
  const job = await createImportJob(c.var.deps.imports, {
    format,
    fileName: query.fileName,
    options: rawOptions,
    body: c.req.raw.body,
    byteLength,
  });
  return c.json(job, 202);
});

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError("BAD_REQUEST", "Malformed JSON body");
  }
}
