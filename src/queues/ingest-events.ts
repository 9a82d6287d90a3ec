import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import type { IngestEventsMessage } from "../lib/queues";
import { EVENTS_PER_WRITE, writeBuffered } from "../pipeline/ingest-buffer";

type Message = globalThis.Message<IngestEventsMessage>;

/** Whole messages into groups of at most EVENTS_PER_WRITE events: one D1 batch per group. */
function groups(messages: readonly Message[]): Message[][] {
  const out: Message[][] = [];
  let current: Message[] = [];
  let events = 0;
  for (const message of messages) {
    const n = message.body.events.length;
    if (current.length && events + n > EVENTS_PER_WRITE) {
      out.push(current);
      current = [];
      events = 0;
    }
    current.push(message);
    events += n;
  }
  if (current.length) out.push(current);
  return out;
}

async function tryWrite(deps: Deps, messages: Message[]): Promise<boolean> {
  try {
    await writeBuffered(
      deps.ingest,
      messages.map((m) => m.body),
      { restartEntries: messages.some((m) => m.attempts > 1) },
    );
    return true;
  } catch (error) {
    log.warn("buffered ingest write failed", { messages: messages.map((m) => m.id), ...errorFields(error) });
    return false;
  }
}

/**
 * Buffered ingest: writes the events of up to 100 messages per D1 batch. A group that fails is
 * retried message by message, so one bad message is retried (and at last dead-lettered) alone.
 */
export async function consumeIngestEvents(batch: MessageBatch<IngestEventsMessage>, deps: Deps): Promise<void> {
  for (const group of groups(batch.messages)) {
    if (await tryWrite(deps, group)) {
      for (const message of group) message.ack();
      continue;
    }
    for (const message of group) {
      if (group.length > 1 && (await tryWrite(deps, [message]))) message.ack();
      else message.retry({ delaySeconds: Math.min(300, 2 ** message.attempts * 5) });
    }
  }
}
