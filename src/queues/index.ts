import { buildDeps, type Deps } from "../composition";
import { log } from "../lib/log";
import { deadLetterQueue, QUEUES } from "../lib/queues";
import { consumeDeadLetters } from "./dead-letters";
import { consumeEmailSends } from "./email-sends";
import { consumeImportChunks } from "./import-chunks";
import { consumeJourneyStarts } from "./journey-starts";

type Consumer = (batch: MessageBatch<unknown>, deps: Deps) => Promise<void>;

/** A consumer per queue name (wrangler.toml); every dead-letter queue shares one. */
const consumers: Record<string, Consumer> = {
  [QUEUES.importChunks]: consumeImportChunks,
  [QUEUES.journeyStarts]: consumeJourneyStarts as Consumer,
  [QUEUES.emailSends]: consumeEmailSends as Consumer,
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
  await consumer(batch, buildDeps(env));
}
