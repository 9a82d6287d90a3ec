import { chunk } from "./chunk";

/** Queue names as declared in wrangler.toml. */
export const QUEUES = {
  importChunks: "hogsend-import-chunks",
  journeyStarts: "hogsend-journey-starts",
  emailSends: "hogsend-email-sends",
  backfills: "hogsend-backfills",
} as const;

/**
 * `max_retries` of the import-chunk consumer in wrangler.toml (test/queue-config.test.ts checks
 * they agree): its last delivery fails the job with the chunk's error instead of dead-lettering.
 */
export const IMPORT_CHUNK_MAX_RETRIES = 5;

/** `max_retries` of the backfill consumer in wrangler.toml: its last delivery fails the job. */
export const BACKFILL_MAX_RETRIES = 5;

export const deadLetterQueue = (queue: string) => `${queue}-dlq`;

/** Import chunks: a pointer to the job and the checkpoint the chunk continues from. */
export type ImportChunkMessage = { jobId: string; offset: number };
/** Journey starts: one createBatch's worth of enrollments. */
export type JourneyStartMessage = { enrollmentIds: string[] };
/** Backfill pages: a pointer to the job and the cursor (last contact id) the page continues from. */
export type BackfillPageMessage = { jobId: string; cursor: string };
/** Email sends: one queued email row. */
export type EmailSendMessage = { emailId: string };

/** A queue's `sendBatch` takes at most 100 messages per call. */
const SEND_BATCH_MAX = 100;

/** Sends any number of message bodies, 100 per `sendBatch` call. */
export async function sendAll<Body>(queue: Queue<Body>, bodies: Body[]): Promise<void> {
  for (const slice of chunk(bodies, SEND_BATCH_MAX)) {
    await queue.sendBatch(slice.map((body) => ({ body })));
  }
}
