import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { API_KEY_SCOPES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { notFound } from "../../lib/errors";
import { createApiKey, listApiKeys, revokeApiKey } from "../../services/api-keys/store";
import { forgetKey } from "../../services/api-keys/verify";
import { errorResponses, IsoDateTime, jsonBody, jsonBodyErrors, notFoundResponse, scope, serialize } from "../schemas";

const ScopeSchema = z.enum(API_KEY_SCOPES).openapi({
  description:
    "`ingest`: the ingest routes; `read`: every admin GET but the export and the key list; `operate`: bulk operations (imports and uploads, export, replay, batch enrollment, backfills, resends, cancels) and `read`; `admin`: everything",
});

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(ScopeSchema),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().openapi({ description: "Moves on at most once a minute" }),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

const NewApiKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "migration-script" }),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(API_KEY_SCOPES.length)
      .openapi({ example: ["operate"] }),
    expiresAt: IsoDateTime.optional()
      .refine((at) => at === undefined || new Date(at).getTime() > Date.now(), "must be in the future")
      .openapi({ description: "Refused from then on (default: never)" }),
  })
  .openapi("NewApiKey");

const CreatedApiKeySchema = z
  .object({
    id: z.string(),
    key: z.string().openapi({ description: "`hsk_…`: shown this once; only its SHA-256 is stored", example: "hsk_…" }),
    name: z.string(),
    scopes: z.array(ScopeSchema),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
  })
  .openapi("CreatedApiKey");

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/admin/api-keys",
  operationId: "createApiKey",
  tags: ["Keys"],
  summary: "Create an API key",
  description: "The answer is the only time the key is shown: D1 keeps its SHA-256. Audited (`createApiKey`).",
  ...scope("admin", { audit: "batch" }),
  request: { body: jsonBody(NewApiKeySchema) },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: CreatedApiKeySchema } } },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/admin/api-keys",
  operationId: "listApiKeys",
  tags: ["Keys"],
  summary: "List API keys (no secrets)",
  description: "Newest first; revoked keys only with `includeRevoked=true`. Bootstrap keys are not listed.",
  ...scope("admin"),
  request: {
    query: z.object({ includeRevoked: z.enum(["true", "false"]).default("false") }),
  },
  responses: {
    200: {
      description: "The keys",
      content: { "application/json": { schema: z.object({ keys: z.array(ApiKeySchema) }) } },
    },
    ...errorResponses,
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/admin/api-keys/{keyId}",
  operationId: "revokeApiKey",
  tags: ["Keys"],
  summary: "Revoke an API key",
  description:
    "Refused everywhere within 60 s (at once by the Worker that revoked it; others keep a verified key in memory for at most 30 s). Revoking again answers the same. Audited (`revokeApiKey`).",
  ...scope("admin", { audit: "batch" }),
  request: { params: z.object({ keyId: z.string().min(1).max(64) }) },
  responses: {
    200: { description: "Revoked", content: { "application/json": { schema: ApiKeySchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminApiKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminApiKeyRoutes.openapi(createKeyRoute, async (c) => {
  const { expiresAt, ...input } = c.req.valid("json");
  const created = await createApiKey(c.get("db"), {
    ...input,
    expiresAt: expiresAt ? new Date(expiresAt) : undefined,
    audit: c.var.audit,
  });
  const { lastUsedAt: _used, revokedAt: _revoked, ...shown } = created;
  return c.json(serialize(shown), 201);
});

adminApiKeyRoutes.openapi(listKeysRoute, async (c) => {
  const keys = await listApiKeys(c.get("db"), { includeRevoked: c.req.valid("query").includeRevoked === "true" });
  return c.json(serialize({ keys }), 200);
});

adminApiKeyRoutes.openapi(revokeKeyRoute, async (c) => {
  const { keyId } = c.req.valid("param");
  const revoked = await revokeApiKey(c.get("db"), keyId, { audit: c.var.audit });
  if (!revoked) throw notFound("API key");
  forgetKey(keyId);
  return c.json(serialize(revoked), 200);
});
