import type { Deps } from "../composition";
import type {
  BackfillPageMessage,
  EmailSendMessage,
  ImportChunkMessage,
  IngestEventsMessage,
  JourneyStartMessage,
} from "../lib/queues";
import { deadLetterQueue, QUEUES } from "../lib/queues";
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

type Settle = (deps: Deps, body: unknown, attempts: number) => Promise<Settled>;

const settleByQueue: Record<string, Settle> = {
  [deadLetterQueue(QUEUES.emailSends)]: (deps, body, attempts) =>
    settleDeadEmailSend(deps.db, (body as EmailSendMessage).emailId, attempts),
  [deadLetterQueue(QUEUES.journeyStarts)]: (deps, body, attempts) =>
    settleDeadJourneyStart(
      { db: deps.db, workflow: deps.workflows.workflow },
      (body as JourneyStartMessage).enrollmentIds,
      attempts,
    ),
  [deadLetterQueue(QUEUES.ingestEvents)]: (deps, body) => settleDeadIngestEvents(deps, body as IngestEventsMessage),
  [deadLetterQueue(QUEUES.importChunks)]: (deps, body, attempts) =>
    settleDeadImportChunk(deps.db, String((body as Partial<ImportChunkMessage>)?.jobId ?? ""), attempts),
  [deadLetterQueue(QUEUES.backfills)]: (deps, body, attempts) =>
    settleDeadBackfillPage(deps.db, String((body as Partial<BackfillPageMessage>)?.jobId ?? ""), attempts),
};

/** Dead-letter consumer: settles what the message was about and records it for GET /v1/admin/dead-letters. */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, deps: Deps): Promise<void> {
  const settle = settleByQueue[batch.queue];
  for (const message of batch.messages) {
    const settled = settle
      ? await settle(deps, message.body, message.attempts)
      : { subject: null, error: exhausted(message.attempts) };
    const queue = batch.queue.replace(/-dlq$/, "");
    await recordDeadLetter(
      deps.db,
      { queue, messageId: message.id, body: message.body, attempts: message.attempts },
      settled,
    );
    message.ack();
  }
}
