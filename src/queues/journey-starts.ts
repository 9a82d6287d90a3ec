import { QUEUES } from "../lib/queues";
import { createInstances } from "../services/workflow-instances";
import { eachMessage, queueConsumer } from "./consume";

/** Retries workflow starts that failed inline (or were queued by batch enrollment). */
export const consumeJourneyStarts = queueConsumer({
  queue: QUEUES.journeyStarts,
  run: eachMessage(async (deps, body) => {
    const failed = await createInstances(deps.workflows.workflow, body.enrollmentIds);
    if (failed.length) throw new Error(`${failed.length} of ${body.enrollmentIds.length} workflow starts failed`);
  }),
});
