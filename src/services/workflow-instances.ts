import { chunk } from "../lib/chunk";
import { errorFields, log } from "../lib/log";
import { type JourneyStartMessage, sendAll } from "../lib/queues";

export type JourneyParams = { enrollmentId: string };

export type WorkflowDeps = { workflow: Workflow<JourneyParams>; journeyStarts: Queue<JourneyStartMessage> };

/** createBatch and deleteBatch take at most 100 instances a call. */
const INSTANCES_PER_CALL = 100;

/** The instance id is the enrollment id, so a retried start finds the instance it already made. */
const alreadyExists = (message: string) => /already.?exist/i.test(message);

/**
 * Creates workflow instances (≤100 per createBatch call). Returns the ids that could not be
 * started; `already_exists` counts as started.
 */
export async function createInstances(workflow: Workflow<JourneyParams>, enrollmentIds: string[]): Promise<string[]> {
  const failed: string[] = [];
  for (const ids of chunk(enrollmentIds, INSTANCES_PER_CALL)) {
    try {
      const result = await workflow.createBatch({ instances: ids.map((id) => ({ id, params: { enrollmentId: id } })) });
      for (const error of result.errors) {
        if (!alreadyExists(error.message)) failed.push(error.id ?? ids[error.index]!);
      }
    } catch (error) {
      if (!alreadyExists(String(error))) failed.push(...ids);
    }
  }
  return failed;
}

/**
 * One entry (an ingested event) starts its workflow inline, at once. More (a replay, a history
 * batch) go through the journey-start queue: creating instances takes tens of ms each, which would
 * make the request's duration grow with its size (measured: a 10-entry replay took 265 ms inline,
 * a 100-entry one 21 ms through the queue).
 */
export const INLINE_START_MAX = 1;

/** Starts instances now (few) or through the journey-start queue (many); failed inline starts are queued too. */
export async function startEnrollments(deps: WorkflowDeps, enrollmentIds: string[]): Promise<void> {
  if (enrollmentIds.length === 0) return;
  if (enrollmentIds.length > INLINE_START_MAX) return enqueueStarts(deps.journeyStarts, enrollmentIds);
  const failed = await createInstances(deps.workflow, enrollmentIds);
  if (failed.length) await enqueueStarts(deps.journeyStarts, failed);
}

/** One message per createBatch's worth of enrollments, so the consumer makes one call per message. */
export async function enqueueStarts(queue: Queue<JourneyStartMessage>, enrollmentIds: string[]): Promise<void> {
  await sendAll(
    queue,
    chunk(enrollmentIds, INSTANCES_PER_CALL).map((ids) => ({ enrollmentIds: ids })),
  );
}

/** Stops enrollments' workflows. Failures are logged, not thrown: the exited row already keeps sends from happening. */
export async function stopInstances(workflow: Workflow<JourneyParams>, enrollmentIds: string[]): Promise<void> {
  await Promise.all(
    enrollmentIds.map(async (id) => {
      try {
        await (await workflow.get(id)).terminate();
      } catch (error) {
        log.warn("terminate failed (finished or not started)", { enrollmentId: id, ...errorFields(error) });
      }
    }),
  );
}

/**
 * Deletes instances with their stored state (a step's result holds the contact's address and
 * properties); a running one stops. An id Workflows doesn't know counts as gone. Throws when an
 * instance could not be deleted, so the caller keeps the ids to try again.
 */
export async function deleteInstances(workflow: Workflow<JourneyParams>, enrollmentIds: string[]): Promise<number> {
  let deleted = 0;
  for (const ids of chunk(enrollmentIds, INSTANCES_PER_CALL)) {
    const result = await workflow.deleteBatch(ids);
    deleted += result.deleted.length;
    const failed = result.errors.filter((error) => !/not.?found/i.test(error.message));
    if (failed.length) throw new Error(`Workflow instances not deleted: ${failed.map((e) => e.id).join(", ")}`);
  }
  return deleted;
}

/**
 * Workflow event types allow fewer characters than product event names ("user:activated"), so a
 * name is mapped to a safe type. Collisions don't matter: events are only sent to an enrollment
 * whose D1 row waits for that exact name.
 */
export function workflowEventType(eventName: string): string {
  return `ev-${eventName.replace(/[^a-zA-Z0-9_-]/g, "_")}`.slice(0, 100);
}

export type WaitingDelivery = { enrollmentId: string; event: string; payload: unknown };

/** Hands events to the workflows waiting for them. Failures are logged: the wait times out into its "not done" branch. */
export async function deliverToWaiting(
  workflow: Workflow<JourneyParams>,
  deliveries: WaitingDelivery[],
): Promise<void> {
  await Promise.all(
    deliveries.map(async ({ enrollmentId, event, payload }) => {
      try {
        // The payload travels as JSON text, as the workflow's steps keep it (see doJson).
        await (await workflow.get(enrollmentId)).sendEvent({
          type: workflowEventType(event),
          payload: JSON.stringify(payload),
        });
      } catch (error) {
        log.warn("sendEvent failed", { enrollmentId, ...errorFields(error) });
      }
    }),
  );
}
