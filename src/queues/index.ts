import { buildDeps } from "../composition";
import { createDb } from "../db/client";
import { countRoundTrips, newRoundTripCounter } from "../db/round-trips";
import { log } from "../lib/log";
import { QUEUES, type QueueKey } from "../lib/queues";
import { consumeBackfills } from "./backfills";
import type { Consumer } from "./consume";
import { deadLetterConsumers } from "./dead-letters";
import { consumeEmailSends } from "./email-sends";
import { consumeImportChunks } from "./import-chunks";
import { consumeIngestEvents } from "./ingest-events";
import { consumeJourneyStarts } from "./journey-starts";
import { consumeWebhookDeliveries } from "./webhook-deliveries";

/** Every queue in src/lib/queues.ts has its consumer (the type says so). */
const consumerOf: Record<QueueKey, Consumer> = {
  importChunks: consumeImportChunks,
  journeyStarts: consumeJourneyStarts,
  emailSends: consumeEmailSends,
  backfills: consumeBackfills,
  ingestEvents: consumeIngestEvents,
  webhookDeliveries: consumeWebhookDeliveries,
};

/** A consumer per queue name (wrangler.toml); every dead-letter queue has its own. */
const consumers: Record<string, Consumer> = {
  ...Object.fromEntries((Object.keys(QUEUES) as QueueKey[]).map((key) => [QUEUES[key].name, consumerOf[key]])),
  ...deadLetterConsumers,
};

/** The queues this Worker consumes, dead-letter queues included (test/queue-config.test.ts). */
export const consumedQueues = (): string[] => Object.keys(consumers);

export async function dispatchQueue(batch: MessageBatch<unknown>, env: Env) {
  const consumer = consumers[batch.queue];
  if (!consumer) {
    // A queue with no consumer yet: retry rather than drop, so nothing is lost.
    log.error("no consumer for queue", { queue: batch.queue });
    batch.retryAll();
    return;
  }
  // Like a request's X-D1-Round-Trips: one line per batch says what the consumer cost in D1.
  const roundTrips = newRoundTripCounter();
  const started = Date.now();
  await consumer(batch, buildDeps(env, { db: createDb(countRoundTrips(env.DB, roundTrips)) }));
  log.info("queue batch", {
    queue: batch.queue,
    messages: batch.messages.length,
    d1RoundTrips: roundTrips.count,
    d1WaitedMs: roundTrips.waitedMs,
    d1Statements: roundTrips.statements,
    d1RowsRead: roundTrips.rowsRead,
    d1RowsWritten: roundTrips.rowsWritten,
    durationMs: Date.now() - started,
  });
}
