import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { IMPORT_FORMATS, type ImportFormat } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { AppError, describeZodError } from "../../lib/errors";
import { errorResponses } from "../schemas";

/** The JSON envelope holds the whole file in memory; bigger files go as a raw body. */
export const MAX_ENVELOPE_BYTES = 10 * 1024 * 1024;
/** Cloudflare's request-body limit (Free and Pro plans): a raw upload can't be bigger. */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

export const FileName = z.string().min(1).max(255).openapi({ example: "jan-2025-migration.csv" });
export const IMPORT_OPTIONS_HEADER = "x-import-options";

const RAW_CONTENT_TYPES: Record<string, ImportFormat | null> = {
  "text/csv": "csv",
  "application/x-ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "application/json": null, // with ?format=: the raw file; without it: the envelope
  "text/plain": null,
  "application/octet-stream": null,
};

const mediaType = (c: Context) => (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
const isEnvelope = (c: Context) => mediaType(c) === "application/json" && c.req.query("format") === undefined;

/** Only the envelope is read into memory, so only it gets the in-memory limit. */
export const envelopeLimit = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === "POST" && isEnvelope(c)) return bodyLimit({ maxSize: MAX_ENVELOPE_BYTES })(c, next);
  await next();
});

export const errorFor = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** The request parts both import routes (contacts, suppressions) document: the two forms and their errors. */
export function importFileRequest<Q extends z.ZodRawShape>(input: {
  envelope: string;
  optionQuery: Q;
  headerExample: string;
  csvExample: string;
  ndjsonExample: string;
}) {
  return {
    query: z.object({
      format: z.enum(IMPORT_FORMATS).optional().openapi({ description: "Raw-file form: how to parse the body" }),
      fileName: FileName.optional().openapi({ description: "Raw-file form: shown in the job (metadata only)" }),
      ...input.optionQuery,
    }),
    headers: z.object({
      [IMPORT_OPTIONS_HEADER]: z
        .string()
        .optional()
        .openapi({ description: "Raw-file form: the options as a JSON object", example: input.headerExample }),
    }),
    body: {
      required: true as const,
      content: {
        // Plain OpenAPI schemas (not zod) so the route's validator doesn't force one JSON shape: a raw JSON file is valid too.
        "application/json": {
          schema: {
            oneOf: [
              { $ref: `#/components/schemas/${input.envelope}` },
              { type: "array" as const, items: { type: "object" as const } },
            ],
          },
        },
        "text/csv": { schema: { type: "string" as const, example: input.csvExample } },
        "application/x-ndjson": { schema: { type: "string" as const, example: input.ndjsonExample } },
      },
    },
  };
}

export const importFileResponses = {
  202: {
    description: "Job created; processing starts in the background",
    content: { "application/json": { schema: z.object({ jobId: z.string(), status: z.literal("pending") }) } },
  },
  411: errorFor("Raw file without Content-Length"),
  415: errorFor("Unsupported Content-Type for the import"),
  ...errorResponses,
};

export type ReceivedFile = {
  format: ImportFormat;
  fileName?: string;
  body: string | ReadableStream<Uint8Array>;
  byteLength: number;
  /** The envelope's other fields (its options); empty for a raw file. */
  envelopeOptions: Record<string, unknown>;
};

/**
 * The file of an import request in either form: a JSON envelope `{format, data, fileName?, …options}`
 * validated by `envelope`, or the raw body streamed with its Content-Length. `uploadsPath` is where
 * a file over 100 MB goes instead.
 */
export async function receiveImportFile(
  c: Context<AppEnv>,
  envelope: z.ZodType<{ format: ImportFormat; data: string; fileName?: string }>,
  uploadsPath: string,
): Promise<ReceivedFile> {
  if (isEnvelope(c)) {
    const parsed = envelope.safeParse(await readJson(c));
    if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
    const { format, data, fileName, ...envelopeOptions } = parsed.data;
    return { format, fileName, body: data, byteLength: new TextEncoder().encode(data).byteLength, envelopeOptions };
  }
  const type = mediaType(c);
  if (!(type in RAW_CONTENT_TYPES)) {
    throw new AppError(
      "UNSUPPORTED_MEDIA_TYPE",
      "Send the file as text/csv, application/json or application/x-ndjson (with ?format=), or a JSON envelope {format, data}",
    );
  }
  const format = (c.req.query("format") as ImportFormat | undefined) ?? RAW_CONTENT_TYPES[type];
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
      `Files over 100 MB can't be uploaded in one request: send them as a multipart upload (POST ${uploadsPath}), or use the hogsend CLI`,
    );
  }
  return { format, fileName: c.req.query("fileName"), body: c.req.raw.body, byteLength, envelopeOptions: {} };
}

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError("BAD_REQUEST", "Malformed JSON body");
  }
}
