import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/app-env";
import { checkHealth } from "../services/health";
import { rateLimitedResponse } from "./schemas";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    database: z.enum(["reachable", "unreachable"]),
    migrations: z.object({
      applied: z.number().int(),
      latest: z.string().nullable(),
      missingTables: z.array(z.string()),
    }),
  })
  .openapi("Health");

const route = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["Health"],
  summary: "Database reachable and migrations applied",
  responses: {
    ...rateLimitedResponse,
    200: { description: "Healthy", content: { "application/json": { schema: HealthSchema } } },
    503: {
      description: "Database unreachable or migrations missing",
      content: { "application/json": { schema: HealthSchema } },
    },
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>();

healthRoutes.openapi(route, async (c) => {
  const { ok, ...report } = await checkHealth(c.get("db"));
  return ok
    ? c.json({ status: "ok" as const, ...report }, 200)
    : c.json({ status: "degraded" as const, ...report }, 503);
});
