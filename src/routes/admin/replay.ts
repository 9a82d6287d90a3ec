import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { replayEvents } from "../../pipeline/replay";
import { errorResponses, jsonBody, jsonBodyErrors, scope, toDate } from "../schemas";
import { EventFilterSchema } from "./events";

export const MAX_REPLAY = 1000;

const ReplayOptions = {
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_REPLAY)
    .default(100)
    .openapi({ description: "At most this many events (both forms); default 100, max 1000" }),
  dryRun: z
    .boolean()
    .default(false)
    .openapi({ description: "Answer what would happen, per event, with no side effects" }),
};

/** Exactly one of `eventIds` and `filter` (a `oneOf` in the document); the error names which form failed and why. */
const ReplayRequestSchema = z
  .xor(
    [
      z.object({ eventIds: z.array(z.string().min(1).max(64)).min(1).max(MAX_REPLAY), ...ReplayOptions }).strict(),
      z.object({ filter: EventFilterSchema.strict(), ...ReplayOptions }).strict(),
    ],
    { error: replayError },
  )
  .openapi("ReplayRequest", {}, { unionPreferredType: "oneOf" });

function replayError(issue: { input?: unknown; errors?: Array<Array<{ path: PropertyKey[]; message: string }>> }) {
  const has = (key: string) => typeof issue.input === "object" && issue.input !== null && key in issue.input;
  if (has("eventIds") === has("filter")) return "Provide either eventIds or filter (exactly one)";
  const first = issue.errors?.[has("eventIds") ? 0 : 1]?.[0];
  if (!first) return undefined;
  return first.path.length ? `${first.path.map(String).join(".")}: ${first.message}` : first.message;
}

const ErrorItem = z.object({ eventId: z.string(), error: z.string() });

const ArchiveUseSchema = z
  .object({
    events: z.number().int().openapi({ description: "Replayed events read back from the R2 archive" }),
    objectsRead: z.number().int(),
    stoppedAtDay: z.string().nullable().openapi({
      description: "The archive scan ran out of its object budget at this day: narrow filter.from/to to reach further",
    }),
  })
  .optional()
  .openapi({ description: "Present when the window reached archived days (older than EVENT_RETENTION_DAYS)" });

const ReplaySummarySchema = z
  .object({
    replayed: z.number().int(),
    enrolled: z.number().int(),
    exits: z.number().int(),
    errors: z.array(ErrorItem),
    archive: ArchiveUseSchema,
  })
  .openapi("ReplaySummary");

const ReplayPreviewSchema = z
  .object({
    results: z.array(
      z.object({
        eventId: z.string(),
        journeys: z.array(z.object({ key: z.string(), outcome: z.string().openapi({ example: "would_enroll" }) })),
        exits: z.array(z.object({ journey: z.string(), enrollmentId: z.string() })),
      }),
    ),
    errors: z.array(ErrorItem),
    archive: ArchiveUseSchema,
  })
  .openapi("ReplayPreview");

const route = createRoute({
  method: "post",
  path: "/v1/admin/events/replay",
  operationId: "replayEvents",
  tags: ["Events"],
  summary: "Replay stored events through journey routing",
  description:
    "Each event goes through exits, waiting journeys and entries again, every entry guard included. The stored row is reused (no duplicate, original occurrence time), counted as replayed; contacts are not rewritten. Filter replays go oldest occurrence first; a window that starts before EVENT_RETENTION_DAYS (or has no `from`) also reads the R2 archive, whose events keep their ids but no replay count.",
  ...scope("operate", { audit: "batch" }),
  request: { body: jsonBody(ReplayRequestSchema) },
  responses: {
    200: {
      description: "What was replayed, or with dryRun, what would happen",
      content: { "application/json": { schema: z.union([ReplaySummarySchema, ReplayPreviewSchema]) } },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const adminReplayRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminReplayRoutes.openapi(route, async (c) => {
  const body = c.req.valid("json");
  const { limit, dryRun } = body;
  const input =
    "eventIds" in body
      ? { eventIds: body.eventIds, limit }
      : { filter: { ...body.filter, from: toDate(body.filter.from), to: toDate(body.filter.to) }, limit };
  const deps = c.var.deps.replay;
  return dryRun
    ? c.json(await replayEvents(deps, { ...input, dryRun: true, audit: c.var.audit }), 200)
    : c.json(await replayEvents(deps, { ...input, dryRun: false, audit: c.var.audit }), 200);
});
