import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { metricsOverview } from "../../services/metrics";
import { errorResponses, scope } from "../schemas";

const MetricsSchema = z
  .object({
    totalContacts: z.number().int(),
    activeEnrollments: z.number().int().openapi({ description: "Enrollments active or waiting" }),
    emailsSent24h: z.number().int(),
    emailsSent7d: z.number().int(),
    emailsSent30d: z.number().int(),
    bounceRate30d: z
      .number()
      .openapi({ description: "Bounced ÷ sent over 30 days, a fraction; 0 when nothing was sent" }),
    unsubscribeRate: z.number().openapi({ description: "Unsubscribed ÷ all contacts, a fraction" }),
    journeys: z.array(
      z.object({
        key: z.string(),
        enrolled: z.number().int().openapi({ description: "All enrollments ever" }),
        active: z.number().int(),
        completed: z.number().int(),
        exited: z.number().int(),
        failed: z.number().int(),
      }),
    ),
    topics: z
      .array(
        z.object({
          key: z.string(),
          defaultOptIn: z.boolean(),
          optedOut: z.number().int().openapi({ description: "Contacts who said no to the topic" }),
          optedIn: z.number().int().openapi({ description: "Contacts who said yes (what an opt-in topic needs)" }),
        }),
      )
      .openapi({ description: "Every topic with its explicit choices; the rest of the contacts have its default" }),
    imports: z.object({
      running: z.number().int().openapi({ description: "Jobs pending or processing" }),
      completedToday: z.number().int().openapi({ description: "Jobs completed since 00:00 UTC" }),
      failedRowsToday: z.number().int().openapi({ description: "Failed rows of jobs started since 00:00 UTC" }),
    }),
    backfills: z.object({
      running: z.number().int().openapi({ description: "Backfill jobs pending or processing" }),
      matched: z.number().int().openapi({ description: "Contacts those running jobs have decided so far" }),
    }),
  })
  .openapi("MetricsOverview");

const route = createRoute({
  method: "get",
  path: "/v1/admin/metrics/overview",
  operationId: "getMetricsOverview",
  tags: ["Metrics"],
  summary: "Contacts, enrollments, sends and rates at a glance",
  ...scope("read"),
  responses: {
    200: { description: "The overview", content: { "application/json": { schema: MetricsSchema } } },
    ...errorResponses,
  },
});

export const adminMetricsRoutes = new OpenAPIHono<AppEnv>();

adminMetricsRoutes.openapi(route, async (c) => c.json(await metricsOverview(c.get("db")), 200));
