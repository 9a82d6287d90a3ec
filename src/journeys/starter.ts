import { sendAll } from "../queues/send";

export type JourneyParams = { enrollmentId: string };
export type JourneyStartMessage = { enrollmentIds: string[] };

export type StarterDeps = { workflow: Workflow<JourneyParams>; journeyStarts: Queue<JourneyStartMessage> };

const CREATE_BATCH_MAX = 100;

/** The instance id is the enrollment id, so a retried start finds the instance it already made. */
const alreadyExists = (message: string) => /already.?exist/i.test(message);

/**
 * Creates workflow instances (≤100 per createBatch call). Returns the ids that could not be
 * started; `already_exists` counts as started.
 */
export async function createInstances(workflow: Workflow<JourneyParams>, enrollmentIds: string[]): Promise<string[]> {
  const failed: string[] = [];
  for (let i = 0; i < enrollmentIds.length; i += CREATE_BATCH_MAX) {
    const ids = enrollmentIds.slice(i, i + CREATE_BATCH_MAX);
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
export async function startEnrollments(deps: StarterDeps, enrollmentIds: string[]): Promise<void> {
  if (enrollmentIds.length === 0) return;
  if (enrollmentIds.length > INLINE_START_MAX) return enqueueStarts(deps.journeyStarts, enrollmentIds);
  const failed = await createInstances(deps.workflow, enrollmentIds);
  if (failed.length) await enqueueStarts(deps.journeyStarts, failed);
}

/** One message per createBatch's worth of enrollments, so the consumer makes one call per message. */
export async function enqueueStarts(queue: Queue<JourneyStartMessage>, enrollmentIds: string[]): Promise<void> {
  const bodies: JourneyStartMessage[] = [];
  for (let i = 0; i < enrollmentIds.length; i += CREATE_BATCH_MAX) bodies.push({ enrollmentIds: enrollmentIds.slice(i, i + CREATE_BATCH_MAX) });
  await sendAll(queue, bodies);
}

/** Stops enrollments' workflows. Failures are logged, not thrown: the exited row already keeps sends from happening. */
export async function stopInstances(workflow: Workflow<JourneyParams>, enrollmentIds: string[]): Promise<void> {
  await Promise.all(
    enrollmentIds.map(async (id) => {
      try {
        await (await workflow.get(id)).terminate();
      } catch (error) {
        console.warn(JSON.stringify({ level: "warn", enrollmentId: id, message: "terminate failed (finished or not started)", error: String(error) }));
      }
    }),
  );
}
