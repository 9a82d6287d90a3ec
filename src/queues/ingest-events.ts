import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import { type IngestEventsMessage, QUEUES } from "../lib/queues";
import { EVENTS_PER_WRITE, writeBuffered } from "../pipeline/ingest-buffer";
import { type Delivery, type Failure, queueConsumer } from "./consume";

type Buffered = Delivery<IngestEventsMessage>;

/** Whole messages into groups of at most EVENTS_PER_WRITE events: one D1 batch per group. */
function groups(deliveries: readonly Buffered[]): Buffered[][] {
  const out: Buffered[][] = [];
  let current: Buffered[] = [];
  let events = 0;
  for (const delivery of deliveries) {
    const n = delivery.body.events.length;
    if (current.length && events + n > EVENTS_PER_WRITE) {
      out.push(current);
      current = [];
      events = 0;
    }
    current.push(delivery);
    events += n;
  }
  if (current.length) out.push(current);
  return out;
}

/** Writes a group in one D1 batch; answers the error when it fails. */
async function tryWrite(deps: Deps, group: Buffered[]): Promise<unknown> {
  try {
    await writeBuffered(
      deps.ingest,
      group.map((d) => d.body),
      { restartEntries: group.some((d) => d.message.attempts > 1) },
    );
    return null;
  } catch (error) {
    log.warn("buffered ingest write failed", { messages: group.map((d) => d.message.id), ...errorFields(error) });
    return error ?? new Error("write failed");
  }
}

/**
 * Buffered ingest: writes the events of up to 100 messages per D1 batch. A group that fails is
 * retried message by message, so one bad message is retried (and at last dead-lettered) alone.
 */
export const consumeIngestEvents = queueConsumer({
  queue: QUEUES.ingestEvents,
  run: async (deps, deliveries) => {
    const failures: Failure<IngestEventsMessage>[] = [];
    for (const group of groups(deliveries)) {
      const error = await tryWrite(deps, group);
      if (!error) continue;
      for (const delivery of group) {
        const alone = group.length > 1 ? await tryWrite(deps, [delivery]) : error;
        if (alone) failures.push({ delivery, error: alone });
      }
    }
    return failures;
  },
  describe: (body) => ({ events: body.events.length }),
});
