import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../http/app-env";
import { requireIngestKey } from "../http/auth";
import { validationHook } from "../http/validation";
import { AppError, describeZodError } from "../lib/errors";
import { ingestEvents } from "../pipeline/ingest";
import { SKIP_REASONS } from "../services/entry-guards";
import {
  bearerSecurity,
  EmailAddress,
  errorResponses,
  IsoDateTime,
  jsonBody,
  PropertiesSchema,
  rateLimitedResponse,
} from "./schemas";

export const MAX_BATCH_EVENTS = 500;

export const IngestEventSchema = z
  .object({
    event: z.string().min(1).max(200).openapi({ example: "user:signed_up" }),
    userId: z.string().min(1).max(255).openapi({ example: "user_abc123" }),
    userEmail: EmailAddress.optional().openapi({ example: "ada@example.com" }),
    properties: PropertiesSchema.optional(),
    idempotencyKey: z.string().min(1).max(255).optional().openapi({ example: "signup_user_abc123_2025-01-15" }),
    timestamp: IsoDateTime.optional().openapi({ description: "When the event happened; defaults to now" }),
  })
  .openapi("IngestEvent");

const JourneyRefSchema = z.object({ journey: z.string(), enrollmentId: z.string() });
const JourneySkipSchema = z.object({
  journey: z.string(),
  reason: z.enum(SKIP_REASONS).openapi({ description: "The first entry guard that refused the user" }),
});

const IngestResponseSchema = z
  .object({
    stored: z.boolean(),
    eventId: z.string().optional(),
    journeys: z.array(JourneyRefSchema).openapi({ description: "Journeys the event entered the user into" }),
    exits: z.array(JourneyRefSchema).openapi({ description: "Journey enrollments the event ended" }),
    skipped: z
      .array(JourneySkipSchema)
      .openapi({ description: "Journeys this event triggers that the user did not enter, with why" }),
  })
  .openapi("IngestResponse");

const BatchResultSchema = z
  .object({
    index: z.number().int(),
    stored: z.boolean().optional(),
    eventId: z.string().optional(),
    duplicate: z.boolean().optional(),
    error: z.string().optional(),
    journeys: z.array(JourneyRefSchema).optional(),
    exits: z.array(JourneyRefSchema).optional(),
    skipped: z.array(JourneySkipSchema).optional(),
  })
  .openapi("IngestBatchResult");

const ingestRoute = createRoute({
  method: "post",
  path: "/v1/ingest",
  tags: ["Ingest"],
  summary: "Ingest one product event",
  description:
    "Stores the event and upserts the contact. With an idempotency key (body field or `Idempotency-Key` header) seen before, the event is dropped: `stored: false`, and nothing else happens.",
  security: bearerSecurity,
  request: {
    headers: z.object({ "idempotency-key": z.string().min(1).max(255).optional() }),
    body: jsonBody(IngestEventSchema),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Stored (or dropped as a duplicate)",
      content: { "application/json": { schema: IngestResponseSchema } },
    },
    ...errorResponses,
  },
});

const batchRoute = createRoute({
  method: "post",
  path: "/v1/ingest/batch",
  tags: ["Ingest"],
  summary: "Ingest up to 500 events",
  description: "Each item is validated and deduplicated on its own; one bad item doesn't reject the others.",
  security: bearerSecurity,
  request: {
    body: jsonBody(
      z.object({
        events: z
          .array(z.unknown())
          .min(1)
          .max(MAX_BATCH_EVENTS)
          .openapi({ type: "array", items: { $ref: "#/components/schemas/IngestEvent" } }),
      }),
    ),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Per-item results, in input order",
      content: { "application/json": { schema: z.object({ results: z.array(BatchResultSchema) }) } },
    },
    ...errorResponses,
  },
});

export const ingestRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

ingestRoutes.use("/v1/ingest", requireIngestKey, bodyLimit({ maxSize: 256 * 1024 }));
ingestRoutes.use("/v1/ingest/batch", requireIngestKey, bodyLimit({ maxSize: 10 * 1024 * 1024 }));

ingestRoutes.openapi(ingestRoute, async (c) => {
  const body = c.req.valid("json");
  const headerKey = c.req.valid("header")["idempotency-key"];
  if (headerKey && body.idempotencyKey && headerKey !== body.idempotencyKey) {
    throw new AppError("VALIDATION_ERROR", "idempotencyKey: differs from the Idempotency-Key header");
  }
  const [result] = await ingestEvents(
    c.var.deps.ingest,
    [{ ...body, idempotencyKey: body.idempotencyKey ?? headerKey }],
    "api",
  );
  if (!result?.stored) return c.json({ stored: false, journeys: [], exits: [], skipped: [] }, 202);
  return c.json(result, 202);
});

ingestRoutes.openapi(batchRoute, async (c) => {
  const { events } = c.req.valid("json");
  const parsed = events.map((item) => IngestEventSchema.safeParse(item));
  const valid = parsed.flatMap((result, index) => (result.success ? [{ index, item: result.data }] : []));
  const outcomes = await ingestEvents(
    c.var.deps.ingest,
    valid.map((v) => v.item),
    "batch",
  );
  const byIndex = new Map(valid.map((v, i) => [v.index, outcomes[i]!]));

  const results = parsed.map((result, index) => {
    if (!result.success) return { index, error: describeZodError(result.error) };
    const outcome = byIndex.get(index)!;
    return outcome.stored
      ? {
          index,
          stored: true,
          eventId: outcome.eventId,
          journeys: outcome.journeys,
          exits: outcome.exits,
          skipped: outcome.skipped,
        }
      : { index, stored: false, duplicate: true };
  });
  return c.json({ results }, 202);
});
