import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env";
import { principalOf } from "../http/auth";
import { AppError } from "../lib/errors";
import { grants } from "../services/api-keys/verify";
import { checkHealth } from "../services/health";
import { errorResponses, rateLimitedResponse } from "./schemas";

const StatusSchema = z.enum(["ok", "degraded"]);

const PublicHealthSchema = z.object({ status: StatusSchema }).openapi("PublicHealth");

const HealthDetailsSchema = z
  .object({
    status: StatusSchema,
    database: z.enum(["reachable", "unreachable"]),
    migrations: z.object({
      applied: z.number().int(),
      latest: z.string().nullable(),
      missingTables: z.array(z.string()),
    }),
  })
  .openapi("HealthDetails");

const HealthSchema = z.union([PublicHealthSchema, HealthDetailsSchema]);

const route = createRoute({
  method: "get",
  path: "/v1/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary: "Database reachable and migrations applied",
  description:
    "Public: only `status`. With a key that has the `read` scope also the database and migration details (migration names and missing tables are not for strangers).",
  security: [{}, { apiKey: ["read"] }],
  responses: {
    ...rateLimitedResponse,
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    401: {
      ...errorResponses[401],
      description: "An Authorization header with a wrong key (send none for the public status)",
    },
    503: {
      description: "Database unreachable or migrations missing",
      content: { "application/json": { schema: HealthSchema } },
    },
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>();

healthRoutes.openapi(route, async (c) => {
  const authorization = c.req.header("authorization");
  const withDetails = authorization !== undefined;
  if (withDetails) {
    const { scopes } = await principalOf(c, "RATE_LIMIT_PUBLIC");
    if (!grants(scopes, "read"))
      throw new AppError("FORBIDDEN", "This key lacks the `read` scope this operation needs");
  }
  const { ok, ...report } = await checkHealth(c.get("db"));
  const status = ok ? ("ok" as const) : ("degraded" as const);
  const body = withDetails ? { status, ...report } : { status };
  return ok ? c.json(body, 200) : c.json(body, 503);
});
