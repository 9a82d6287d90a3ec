import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { IMPORT_FORMATS } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { createImportJob } from "../../services/imports/jobs";
import { scope } from "../schemas";
import {
  envelopeLimit,
  FileName,
  IMPORT_OPTIONS_HEADER,
  importFileRequest,
  importFileResponses,
  receiveImportFile,
} from "./import-file";
import { ImportOptionFields, ImportOptionQuery, importOptions, rawImportOptions } from "./import-options";

export { MAX_ENVELOPE_BYTES, MAX_UPLOAD_BYTES } from "./import-file";

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
  ...scope("operate", { audit: "batch" }),
  request: importFileRequest({
    envelope: "ImportEnvelope",
    optionQuery: ImportOptionQuery,
    headerExample: '{"preset":"mailchimp"}',
    csvExample: "externalId,email,plan\nuser_001,ada@example.com,pro\n",
    ndjsonExample: '{"externalId":"user_001","properties":{"plan":"pro"}}\n',
  }),
  responses: importFileResponses,
});

export const adminImportStartRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
adminImportStartRoutes.openAPIRegistry.register("ImportEnvelope", ImportEnvelopeSchema);
adminImportStartRoutes.use("/v1/admin/contacts/import", envelopeLimit);

adminImportStartRoutes.openapi(startRoute, async (c) => {
  const rawOptions = rawImportOptions(c.req.valid("query"), c.req.header(IMPORT_OPTIONS_HEADER));
  const file = await receiveImportFile(c, ImportEnvelopeSchema, "/v1/admin/contacts/import/uploads");
  const job = await createImportJob(c.var.deps.imports, {
    ...file,
    options: importOptions({ ...file.envelopeOptions, ...rawOptions }),
    audit: c.var.audit,
  });
  return c.json(job, 202);
});
