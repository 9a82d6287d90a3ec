import { createInstances, type JourneyStartMessage } from "../journeys/starter";

/** Retries workflow starts that failed inline (or were queued by batch enrollment). */
export async function consumeJourneyStarts(batch: MessageBatch<JourneyStartMessage>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const failed = await createInstances(env.JOURNEY_WORKFLOW, message.body.enrollmentIds);
    if (failed.length) message.retry({ delaySeconds: Math.min(300, 2 ** message.attempts * 5) });
    else message.ack();
  }
}
