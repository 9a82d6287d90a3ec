import { buildDeps, type Deps } from "../composition";
import { createDb } from "../db/client";
import { countRoundTrips, newRoundTripCounter } from "../db/round-trips";
import { log } from "../lib/log";
import { deadLetterQueue, QUEUES } from "../lib/queues";
import { consumeBackfills } from "./backfills";
import { consumeDeadLetters } from "./dead-letters";
import { consumeEmailSends } from "./email-sends";
import { consumeImportChunks } from "./import-chunks";
import { consumeIngestEvents } from "./ingest-events";
import { consumeJourneyStarts } from "./journey-starts";

type Consumer = (batch: MessageBatch<unknown>, deps: Deps) => Promise<void>;

/** A consumer per queue name (wrangler.toml); every dead-letter queue shares one. */
const consumers: Record<string, Consumer> = {
  [QUEUES.importChunks]: consumeImportChunks,
  [QUEUES.journeyStarts]: consumeJourneyStarts as Consumer,
  [QUEUES.emailSends]: consumeEmailSends as Consumer,
  [QUEUES.backfills]: consumeBackfills,
  [QUEUES.ingestEvents]: consumeIngestEvents as Consumer,
  ...Object.fromEntries(Object.values(QUEUES).map((queue) => [deadLetterQueue(queue), consumeDeadLetters])),
};

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
    durationMs: Date.now() - started,
  });
}
