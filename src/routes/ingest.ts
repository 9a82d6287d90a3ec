import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../http/app-env";
import { PREFERENCE_APPLIED, prefersRespondAsync } from "../http/prefer";
import { validationHook } from "../http/validation";
import { AppError, describeZodError } from "../lib/errors";
import { CONTACT_PROPERTIES_MAX_BYTES, CONTACT_PROPERTIES_MAX_KEYS } from "../lib/properties";
import { ingestEvents } from "../pipeline/ingest";
import { bufferEvents, ingestWithinBudget } from "../pipeline/ingest-buffer";
import { PROPERTIES_LIMIT_OUTCOME } from "../services/contact-properties";
import { SKIP_REASONS } from "../services/entry-guards";
import {
  ApiIdempotencyKey,
  EmailAddress,
  errorResponses,
  IsoDateTime,
  ingestSecurity,
  jsonBody,
  jsonBodyErrors,
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
    idempotencyKey: ApiIdempotencyKey.optional().openapi({ example: "signup_user_abc123_2025-01-15" }),
    timestamp: IsoDateTime.optional().openapi({ description: "When the event happened; defaults to now" }),
  })
  .openapi("IngestEvent");

const JourneyRefSchema = z.object({ journey: z.string(), enrollmentId: z.string() });
const JourneySkipSchema = z.object({
  journey: z.string(),
  reason: z.enum(SKIP_REASONS).openapi({ description: "The first entry guard that refused the user" }),
});

const ContactUpdateSchema = z
  .enum([PROPERTIES_LIMIT_OUTCOME])
  .optional()
  .openapi({
    description: `Present when the event was stored but its properties were not merged into the contact: the contact would hold more than ${CONTACT_PROPERTIES_MAX_BYTES / 1024} KB of properties or ${CONTACT_PROPERTIES_MAX_KEYS} keys. The rest of the event (address, last seen, journeys) still applied.`,
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
    contactUpdate: ContactUpdateSchema,
  })
  .openapi("IngestResponse");

const PreferHeader = z
  .string()
  .optional()
  .openapi({ description: "`respond-async` (RFC 7240): acknowledge after a queue send", example: "respond-async" });

const AcceptedSchema = z
  .object({
    accepted: z.literal(true),
    eventId: z.string().optional().openapi({ description: "The id the stored row will have" }),
    duplicate: z
      .literal(true)
      .optional()
      .openapi({ description: "The key is already known: the event will not be stored again" }),
  })
  .openapi("IngestAccepted", { description: "With `Prefer: respond-async`: queued, written within seconds" });

const BatchResultSchema = z
  .object({
    index: z.number().int(),
    accepted: z.literal(true).optional(),
    stored: z.boolean().optional(),
    eventId: z.string().optional(),
    duplicate: z.boolean().optional(),
    error: z.string().optional(),
    journeys: z.array(JourneyRefSchema).optional(),
    exits: z.array(JourneyRefSchema).optional(),
    skipped: z.array(JourneySkipSchema).optional(),
    contactUpdate: ContactUpdateSchema,
  })
  .openapi("IngestBatchResult");

const ingestRoute = createRoute({
  method: "post",
  path: "/v1/ingest",
  operationId: "ingestEvent",
  tags: ["Ingest"],
  summary: "Ingest one product event",
  description:
    "Stores the event, upserts the contact and routes it to journeys in one D1 round trip. With an idempotency key (body field or `Idempotency-Key` header) seen before, the event is dropped: `stored: false`, and nothing else happens. With `Prefer: respond-async` the answer is `{accepted, eventId}` after one queue send; a consumer writes the event within seconds, with the same deduplication.",
  security: ingestSecurity,
  request: {
    headers: z.object({ "idempotency-key": ApiIdempotencyKey.optional(), prefer: PreferHeader }),
    body: jsonBody(IngestEventSchema),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Stored (or dropped as a duplicate), or accepted for the buffered path",
      content: { "application/json": { schema: z.union([IngestResponseSchema, AcceptedSchema]) } },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const batchRoute = createRoute({
  method: "post",
  path: "/v1/ingest/batch",
  operationId: "ingestEventBatch",
  tags: ["Ingest"],
  summary: "Ingest up to 500 events",
  description:
    "Each item is validated and deduplicated on its own; one bad item doesn't reject the others. All items are written in one D1 round trip; with `Prefer: respond-async` they are queued instead and each valid item answers `accepted`. A batch whose write would pass a request's D1 statement budget (900 of D1's 1,000 per invocation: e.g. hundreds of events of one person) is written up to the budget, in order, and the rest is queued: those items answer `accepted`.",
  security: ingestSecurity,
  request: {
    headers: z.object({ prefer: PreferHeader }),
    body: jsonBody(
      z.object({
        events: z
          .array(z.unknown())
          .min(1)
          .max(MAX_BATCH_EVENTS)
          // Items are validated one by one in the handler; the document still names their schema.
          .openapi({ items: { $ref: "#/components/schemas/IngestEvent" } }),
      }),
    ),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Per-item results, in input order",
      content: { "application/json": { schema: z.object({ results: z.array(BatchResultSchema) }) } },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const ingestRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

ingestRoutes.use("/v1/ingest", bodyLimit({ maxSize: 256 * 1024 }));
ingestRoutes.use("/v1/ingest/batch", bodyLimit({ maxSize: 10 * 1024 * 1024 }));

ingestRoutes.openapi(ingestRoute, async (c) => {
  const body = c.req.valid("json");
  const headerKey = c.req.valid("header")["idempotency-key"];
  if (headerKey && body.idempotencyKey && headerKey !== body.idempotencyKey) {
    throw new AppError("VALIDATION_ERROR", "idempotencyKey: differs from the Idempotency-Key header");
  }
  const item = { ...body, idempotencyKey: body.idempotencyKey ?? headerKey };
  if (prefersRespondAsync(c.req.valid("header").prefer)) {
    const [accepted] = await bufferEvents(c.var.deps.ingest, [item], "api");
    return c.json(accepted!, 202, PREFERENCE_APPLIED);
  }
  const [result] = await ingestEvents(c.var.deps.ingest, [item], "api");
  if (!result?.stored) return c.json({ stored: false, journeys: [], exits: [], skipped: [] }, 202);
  return c.json(result, 202);
});

ingestRoutes.openapi(batchRoute, async (c) => {
  const { events } = c.req.valid("json");
  const parsed = events.map((item) => IngestEventSchema.safeParse(item));
  const valid = parsed.flatMap((result, index) => (result.success ? [{ index, item: result.data }] : []));
  if (prefersRespondAsync(c.req.valid("header").prefer)) {
    const accepted = await bufferEvents(
      c.var.deps.ingest,
      valid.map((v) => v.item),
      "batch",
    );
    const byIndex = new Map(valid.map((v, i) => [v.index, accepted[i]!]));
    const results = parsed.map((result, index) =>
      result.success ? { index, ...byIndex.get(index)! } : { index, error: describeZodError(result.error) },
    );
    return c.json({ results }, 202, PREFERENCE_APPLIED);
  }
  const outcomes = await ingestWithinBudget(
    c.var.deps.ingest,
    valid.map((v) => v.item),
    "batch",
  );
  const byIndex = new Map(valid.map((v, i) => [v.index, outcomes[i]!]));

  const results = parsed.map((result, index) => {
    if (!result.success) return { index, error: describeZodError(result.error) };
    const outcome = byIndex.get(index)!;
    // Past the request's D1 statement budget: buffered, as with respond-async.
    if ("accepted" in outcome) return { index, ...outcome };
    return outcome.stored
      ? {
          index,
          stored: true,
          eventId: outcome.eventId,
          journeys: outcome.journeys,
          exits: outcome.exits,
          skipped: outcome.skipped,
          ...(outcome.contactUpdate ? { contactUpdate: outcome.contactUpdate } : {}),
        }
      : { index, stored: false, duplicate: true };
  });
  return c.json({ results }, 202);
});
