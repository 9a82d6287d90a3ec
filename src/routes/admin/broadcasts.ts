import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { startBroadcast } from "../../pipeline/broadcast";
import { SKIP_KINDS } from "../../services/broadcasts/fates";
import { cancelBroadcast } from "../../services/broadcasts/jobs";
import { BROADCAST_STATES, getBroadcast, listBroadcasts } from "../../services/broadcasts/view";
import {
  ApiIdempotencyKey,
  CursorParam,
  conflictResponse,
  errorResponses,
  IsoDateTime,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  PropertiesSchema,
  scope,
  serialize,
  toDate,
} from "../schemas";
import { SegmentFilterSchema } from "./backfills";

const SkippedSchema = z
  .object(Object.fromEntries(SKIP_KINDS.map((k) => [k, z.number().int()])))
  .openapi("BroadcastSkipped", {
    description:
      "Recipients not sent to, by reason: decided when the page was committed, or by the send step, which checks every rule again",
  });

const SampleSchema = z
  .object({ contactId: z.string(), to: z.string(), subject: z.string(), text: z.string(), html: z.string() })
  .openapi("BroadcastSample");

const BroadcastSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    template: z.string(),
    topic: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    filter: z.record(z.string(), z.unknown()),
    status: z.enum(BROADCAST_STATES),
    dryRun: z.boolean(),
    sendAt: z.string().nullable(),
    ratePerMinute: z.number().int().nullable(),
    targeted: z.number().int().openapi({ description: "Contacts of the segment walked so far" }),
    queued: z.number().int().openapi({ description: "Waiting to be sent (a dry run: would be sent)" }),
    sent: z.number().int().openapi({ description: "Handed to the provider (sent, delivered, bounced or complained)" }),
    failed: z.number().int(),
    cancelled: z.number().int().openapi({ description: "Queued emails the cancel stopped" }),
    skipped: SkippedSchema,
    pages: z.number().int(),
    samples: z.array(SampleSchema).nullable().openapi({ description: "A dry run's sample renders" }),
    error: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("Broadcast");

const PreviewSchema = z
  .object({
    dryRun: z.literal(true),
    targeted: z.number().int(),
    queued: z.number().int(),
    skipped: SkippedSchema,
    samples: z.array(SampleSchema),
  })
  .openapi("BroadcastPreview");

const AcceptedSchema = z
  .object({ broadcastId: z.string(), status: z.enum(BROADCAST_STATES) })
  .openapi("BroadcastAccepted");

const RequestSchema = z
  .object({
    template: z.string().min(1).max(64).openapi({ example: "product-update" }),
    data: PropertiesSchema.optional().openapi({ description: "The template's data (checked against its schema)" }),
    topic: z.string().min(1).max(64).openapi({ example: "product-updates" }),
    filter: SegmentFilterSchema,
    name: z.string().min(1).max(200).optional(),
    sendAt: IsoDateTime.optional().openapi({ description: "Start the walk at this time (within a minute)" }),
    ratePerMinute: z.number().int().min(1).max(100_000).optional(),
    dryRun: z.boolean().default(false),
  })
  .strict()
  .openapi("BroadcastRequest");

const startRoute = createRoute({
  method: "post",
  path: "/v1/admin/broadcasts",
  operationId: "startBroadcast",
  tags: ["Broadcasts"],
  summary: "Send one email to a segment of contacts, as a job",
  description:
    "Walks the contacts matching `filter` in pages (the backfill walk) and makes one email row per contact, decided like `POST /v1/emails` (suppressions, unsubscribes, topic opt-outs, no address, the per-address daily cap); the queued ones are sent by the email-send queue, which checks every rule again. One email per contact per broadcast, whatever is redelivered or retried; the same `Idempotency-Key` answers the first broadcast. `sendAt` starts it later (cancellable before); `ratePerMinute` spaces the sends. `dryRun` sends nothing: answered at once (200) with the counts and three sample renders when the segment is small (up to 1000 contacts among the first 10,000), else as a dry-run job (202).",
  ...scope("operate"),
  request: {
    headers: z.object({ "idempotency-key": ApiIdempotencyKey.optional() }),
    body: jsonBody(RequestSchema),
  },
  responses: {
    200: { description: "Dry run over a small segment", content: { "application/json": { schema: PreviewSchema } } },
    202: { description: "The broadcast, queued", content: { "application/json": { schema: AcceptedSchema } } },
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const IdParams = z.object({ broadcastId: z.string().min(1).max(64) });

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/broadcasts/{broadcastId}",
  operationId: "getBroadcast",
  tags: ["Broadcasts"],
  summary: "A broadcast and its progress",
  ...scope("read"),
  request: { params: IdParams },
  responses: {
    200: { description: "The broadcast", content: { "application/json": { schema: BroadcastSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/broadcasts",
  operationId: "listBroadcasts",
  tags: ["Broadcasts"],
  summary: "List broadcasts, newest first",
  ...scope("read"),
  request: { query: z.object({ limit: LimitParam(100, 20), cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of broadcasts",
      content: {
        "application/json": {
          schema: z.object({ broadcasts: z.array(BroadcastSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/v1/admin/broadcasts/{broadcastId}/cancel",
  operationId: "cancelBroadcast",
  tags: ["Broadcasts"],
  summary: "Cancel a broadcast",
  description:
    "Stops the walk and every email not yet handed to the provider (they become `skipped`, counted as `cancelled`); an email the send step already claimed goes out. A scheduled broadcast sends nothing. 409 when nothing is left to stop.",
  ...scope("operate"),
  request: { params: IdParams },
  responses: {
    200: { description: "The cancelled broadcast", content: { "application/json": { schema: BroadcastSchema } } },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminBroadcastRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminBroadcastRoutes.openapi(startRoute, async (c) => {
  const { sendAt, ...body } = c.req.valid("json");
  const key = c.req.valid("header")["idempotency-key"];
  const started = await startBroadcast(c.var.deps.backfills, { ...body, sendAt: toDate(sendAt), idempotencyKey: key });
  if ("preview" in started) return c.json(started.preview, 200);
  const broadcast = await getBroadcast(c.get("db"), started.broadcastId);
  return c.json({ broadcastId: broadcast.id, status: broadcast.status }, 202);
});

adminBroadcastRoutes.openapi(listRoute, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(serialize(await listBroadcasts(c.get("db"), { limit, cursor })), 200);
});

adminBroadcastRoutes.openapi(getRoute, async (c) =>
  c.json(serialize(await getBroadcast(c.get("db"), c.req.valid("param").broadcastId)), 200),
);

adminBroadcastRoutes.openapi(cancelRoute, async (c) => {
  const { broadcastId } = c.req.valid("param");
  await cancelBroadcast(c.get("db"), broadcastId);
  return c.json(serialize(await getBroadcast(c.get("db"), broadcastId)), 200);
});
