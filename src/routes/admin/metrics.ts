import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { engagementBreakdown } from "../../services/engagement-metrics";
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
    emailsDelivered30d: z
      .number()
      .int()
      .openapi({ description: "Emails sent in 30 days and not bounced or failed since" }),
    emailsOpened30d: z
      .number()
      .int()
      .openapi({ description: "Of those, opened by a person (machine opens left out: docs/engagement-tracking.md)" }),
    emailsClicked30d: z.number().int().openapi({ description: "Of those, with a link clicked by a person" }),
    openRate30d: z.number().openapi({ description: "Opened ÷ delivered, a fraction; 0 when nothing was delivered" }),
    clickRate30d: z.number().openapi({ description: "Clicked ÷ delivered, a fraction" }),
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
    deadLetters: z.object({
      notRetried: z
        .number()
        .int()
        .openapi({ description: "Dead letters not retried yet (GET /v1/admin/dead-letters; normally 0)" }),
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

const EngagementSchema = z
  .object({
    days: z.number().int(),
    since: z.string().openapi({ description: "Emails sent since this time are counted" }),
    rows: z.array(
      z.object({
        journey: z.string().nullable().openapi({ description: "null: sent through POST /v1/emails" }),
        template: z.string().nullable(),
        sent: z.number().int(),
        delivered: z.number().int().openapi({ description: "Sent and not bounced or failed since" }),
        opened: z.number().int().openapi({ description: "Opened by a person (machine opens left out)" }),
        clicked: z.number().int().openapi({ description: "With a link clicked by a person" }),
        openRate: z.number().openapi({ description: "Opened ÷ delivered; 0 when nothing was delivered" }),
        clickRate: z.number().openapi({ description: "Clicked ÷ delivered" }),
      }),
    ),
  })
  .openapi("EngagementMetrics");

const engagementRoute = createRoute({
  method: "get",
  path: "/v1/admin/metrics/engagement",
  operationId: "getEngagementMetrics",
  tags: ["Metrics"],
  summary: "Delivered, opened and clicked (by people) per journey and template",
  description:
    "The emails sent in the last `days` (default 30), grouped by journey and template, busiest first. Opens and clicks are counted once per email, machine traffic left out (docs/engagement-tracking.md).",
  ...scope("read"),
  request: { query: z.object({ days: z.coerce.number().int().min(1).max(400).default(30).openapi({ example: 30 }) }) },
  responses: {
    200: {
      description: "Engagement per journey and template",
      content: { "application/json": { schema: EngagementSchema } },
    },
    ...errorResponses,
  },
});

export const adminMetricsRoutes = new OpenAPIHono<AppEnv>();

adminMetricsRoutes.openapi(engagementRoute, async (c) =>
  c.json(await engagementBreakdown(c.get("db"), c.req.valid("query").days), 200),
);

adminMetricsRoutes.openapi(route, async (c) => c.json(await metricsOverview(c.get("db")), 200));
