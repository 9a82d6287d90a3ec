import { z } from "zod";
import { chunk } from "./chunk";

const id = z.string().min(1).max(64);

/** Buffered ingest: a validated event with the id its row will have (times in epoch ms). */
const bufferedEvent = z.object({
  id,
  event: z.string().min(1),
  userId: z.string().min(1),
  userEmail: z.string().nullable(),
  properties: z.record(z.string(), z.unknown()),
  idempotencyKey: z.string().nullable(),
  occurredAt: z.number().int(),
  receivedAt: z.number().int(),
  // Optional: messages queued before these fields existed are still valid.
  anonymous: z.boolean().optional(),
  contactUpdate: z
    .object({ set: z.record(z.string(), z.unknown()), setOnce: z.record(z.string(), z.unknown()) })
    .nullish(),
});

type QueueSpec = { name: string; binding: keyof Env; schema: z.ZodType; maxRetries: number };

/**
 * Every queue the Worker sends to and consumes: its name and producer binding, the schema of its
 * message bodies, and its consumer's `max_retries`. wrangler.toml must agree (test/queue-config.test.ts).
 * Messages carry pointers (ids, offsets, cursors), not payloads, except buffered ingest.
 */
export const QUEUES = {
  /** A pointer to the import job and the checkpoint the chunk continues from. */
  importChunks: {
    name: "hogsend-import-chunks",
    binding: "IMPORT_CHUNKS_QUEUE",
    schema: z.object({ jobId: id, offset: z.number().int().min(0) }),
    maxRetries: 5,
  },
  /** One createBatch's worth of enrollments (the instance id is the enrollment id: ≤ 100 chars). */
  journeyStarts: {
    name: "hogsend-journey-starts",
    binding: "JOURNEY_STARTS_QUEUE",
    schema: z.object({ enrollmentIds: z.array(z.string().min(1).max(100)).min(1).max(100) }),
    maxRetries: 5,
  },
  /** One queued email row. */
  emailSends: {
    name: "hogsend-email-sends",
    binding: "EMAIL_SENDS_QUEUE",
    schema: z.object({ emailId: id }),
    maxRetries: 5,
  },
  /** A pointer to the backfill job and the cursor (last contact id) the page continues from. */
  backfills: {
    name: "hogsend-backfills",
    binding: "BACKFILLS_QUEUE",
    schema: z.object({ jobId: id, cursor: z.string().max(64) }),
    maxRetries: 5,
  },
  /** Buffered ingest: up to 100 validated events of one source. */
  ingestEvents: {
    name: "hogsend-ingest-events",
    binding: "INGEST_EVENTS_QUEUE",
    schema: z.object({ source: z.enum(["api", "batch", "posthog"]), events: z.array(bufferedEvent).min(1) }),
    maxRetries: 5,
  },
  /**
   * One outbound webhook delivery (a webhook_messages row). Its retries follow the webhook schedule
   * (hours apart, recorded in D1), not the one backoff; the platform's limit is only a backstop.
   */
  webhookDeliveries: {
    name: "hogsend-webhook-deliveries",
    binding: "WEBHOOK_DELIVERIES_QUEUE",
    schema: z.object({ endpointId: id, eventId: id }),
    maxRetries: 20,
  },
} as const satisfies Record<string, QueueSpec>;

export type QueueKey = keyof typeof QUEUES;
export type MessageOf<K extends QueueKey> = z.infer<(typeof QUEUES)[K]["schema"]>;

export type ImportChunkMessage = MessageOf<"importChunks">;
export type JourneyStartMessage = MessageOf<"journeyStarts">;
export type EmailSendMessage = MessageOf<"emailSends">;
export type BackfillPageMessage = MessageOf<"backfills">;
export type IngestEventsMessage = MessageOf<"ingestEvents">;
export type WebhookDeliveryMessage = MessageOf<"webhookDeliveries">;
export type BufferedEvent = z.infer<typeof bufferedEvent>;

/** Every queue has a dead-letter queue by this name, consumed by the dead-letter consumer. */
export const deadLetterQueue = (queue: string) => `${queue}-dlq`;
/** `max_retries` of every dead-letter consumer (they have no dead-letter queue of their own). */
export const DEAD_LETTER_MAX_RETRIES = 3;

/** The first delivery plus every retry: a failure on this one is the message's last. */
export const lastAttempt = (maxRetries: number) => maxRetries + 1;

const RETRY_BASE_SECONDS = 5;
const RETRY_MAX_SECONDS = 300;

/** The one retry backoff of every consumer: 10 s after the first delivery, doubling, at most 300 s. */
export const retryDelaySeconds = (attempts: number) => Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** attempts);

/** A queue's `sendBatch` takes at most 100 messages per call. */
const SEND_BATCH_MAX = 100;

/** Sends any number of message bodies, 100 per `sendBatch` call. */
export async function sendAll<Body>(queue: Queue<Body>, bodies: Body[]): Promise<void> {
  for (const slice of chunk(bodies, SEND_BATCH_MAX)) {
    await queue.sendBatch(slice.map((body) => ({ body })));
  }
}
