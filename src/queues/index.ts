import { consumeDeadLetters } from "./dead-letters";
import { consumeEmailSends } from "./email-sends";
import { consumeJourneyStarts } from "./journey-starts";
import { consumeImportChunks } from "./import-chunks";

/** Queue names as declared in wrangler.toml; a consumer is chosen by the batch's queue. */
export const QUEUES = {
  importChunks: "hogsend-import-chunks",
  journeyStarts: "hogsend-journey-starts",
  emailSends: "hogsend-email-sends",
} as const;

const dlq = (queue: string) => `${queue}-dlq`;

export type QueueHandler = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

const consumers: Record<string, QueueHandler> = {
  [QUEUES.importChunks]: consumeImportChunks,
  [QUEUES.journeyStarts]: consumeJourneyStarts as QueueHandler,
  [QUEUES.emailSends]: consumeEmailSends as QueueHandler,
  [dlq(QUEUES.importChunks)]: consumeDeadLetters,
  [dlq(QUEUES.journeyStarts)]: consumeDeadLetters,
  [dlq(QUEUES.emailSends)]: consumeDeadLetters,
};

export async function dispatchQueue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) {
  const consumer = consumers[batch.queue];
  if (!consumer) {
    // A queue with no consumer yet: retry rather than drop, so nothing is lost.
    console.error(JSON.stringify({ level: "error", queue: batch.queue, error: "no consumer for queue" }));
    batch.retryAll();
    return;
  }
  await consumer(batch, env, ctx);
}
