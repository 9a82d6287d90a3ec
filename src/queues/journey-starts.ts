import type { Deps } from "../composition";
import type { JourneyStartMessage } from "../lib/queues";
import { createInstances } from "../services/workflow-instances";

/** Retries workflow starts that failed inline (or were queued by batch enrollment). */
export async function consumeJourneyStarts(batch: MessageBatch<JourneyStartMessage>, deps: Deps): Promise<void> {
  for (const message of batch.messages) {
    const failed = await createInstances(deps.workflows.workflow, message.body.enrollmentIds);
    if (failed.length) message.retry({ delaySeconds: Math.min(300, 2 ** message.attempts * 5) });
    else message.ack();
  }
}
