import type { z } from "zod";
import type { Deps } from "../composition";
import { DEAD_LETTER_MAX_RETRIES, deadLetterQueue, type MessageOf, QUEUES, type QueueKey } from "../lib/queues";
import {
  exhausted,
  recordDeadLetter,
  type Settled,
  settleDeadBackfillPage,
  settleDeadEmailSend,
  settleDeadImportChunk,
  settleDeadIngestEvents,
  settleDeadJourneyStart,
} from "../services/dead-letters";
import { settleDeadWebhookDelivery } from "../services/webhooks/deliveries";
import { type Consumer, eachMessage, queueConsumer } from "./consume";

type Settle<K extends QueueKey> = (deps: Deps, body: MessageOf<K>, attempts: number) => Promise<Settled>;

/** What a dead message of each queue was about is settled: its job, email or enrollments end `failed`. */
const settlers: { [K in QueueKey]: Settle<K> } = {
  importChunks: (deps, body, attempts) => settleDeadImportChunk(deps.db, body.jobId, attempts),
  journeyStarts: (deps, body, attempts) =>
    settleDeadJourneyStart({ db: deps.db, workflow: deps.workflows.workflow }, body.enrollmentIds, attempts),
  emailSends: (deps, body, attempts) => settleDeadEmailSend(deps.db, body.emailId, attempts),
  backfills: (deps, body, attempts) => settleDeadBackfillPage(deps.db, body.jobId, attempts),
  ingestEvents: (deps, body) => settleDeadIngestEvents(deps, body),
  webhookDeliveries: async (deps, body, attempts) => {
    await settleDeadWebhookDelivery(deps.db, body);
    return { subject: `webhook:${body.endpointId}:${body.eventId}`, error: exhausted(attempts) };
  },
};

/**
 * The consumer of one queue's dead-letter queue: settles what the message was about and records
 * it for GET /v1/admin/dead-letters (under the queue's own name). A body that no longer parses is
 * recorded as malformed and settles nothing.
 */
function deadLetterConsumer<K extends QueueKey>(key: K): Consumer {
  const queue = QUEUES[key];
  const settle = settlers[key];
  // TypeScript can't see that QUEUES[K]'s schema parses a MessageOf<K>; it does, by definition.
  const schema = queue.schema as unknown as z.ZodType<MessageOf<K>>;
  return queueConsumer<MessageOf<K>>({
    queue: { name: deadLetterQueue(queue.name), schema, maxRetries: DEAD_LETTER_MAX_RETRIES },
    recordAs: queue.name,
    run: eachMessage(async (deps, body, message) => {
      const settled = await settle(deps, body, message.attempts);
      await recordDeadLetter(
        deps.db,
        { queue: queue.name, messageId: message.id, body: message.body, attempts: message.attempts },
        settled,
      );
    }),
  });
}

/** A consumer per dead-letter queue. */
export const deadLetterConsumers: Record<string, Consumer> = Object.fromEntries(
  (Object.keys(QUEUES) as QueueKey[]).map((key) => [deadLetterQueue(QUEUES[key].name), deadLetterConsumer(key)]),
);
