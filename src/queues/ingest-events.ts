import type { Deps } from "../composition";
import { chunk } from "../lib/chunk";
import { errorFields, log } from "../lib/log";
import { type IngestEventsMessage, QUEUES, sendAll } from "../lib/queues";
import {
  EVENTS_PER_WRITE,
  type StatementBudget,
  StatementBudgetExceeded,
  writeBuffered,
} from "../pipeline/ingest-buffer";
import { postHogLinksOf } from "../services/identity/posthog-links";
import { type Delivery, type Failure, queueConsumer } from "./consume";

type Buffered = Delivery<IngestEventsMessage>;

/**
 * D1 counts each statement of a batch against 1000 queries per invocation (Workers Paid): the
 * consumer's writes spend at most this many, the rest of the invocation (a redelivery's reads) less.
 */
export const STATEMENTS_PER_INVOCATION = 900;
/** A PostHog link (`$identify`, `$create_alias`) writes ~17 statements of its own: at most this many per D1 batch. */
export const LINKS_PER_WRITE = 40;

const linksIn = (body: IngestEventsMessage) =>
  postHogLinksOf(body.events.map((event) => ({ ...event, source: body.source }))).length;

/** Whole messages into groups of at most EVENTS_PER_WRITE events and LINKS_PER_WRITE links: one D1 batch per group. */
function groups(deliveries: readonly Buffered[]): Buffered[][] {
  const out: Buffered[][] = [];
  let current: Buffered[] = [];
  let events = 0;
  let links = 0;
  for (const delivery of deliveries) {
    const n = delivery.body.events.length;
    const l = linksIn(delivery.body);
    if (current.length && (events + n > EVENTS_PER_WRITE || links + l > LINKS_PER_WRITE)) {
      out.push(current);
      current = [];
      events = 0;
      links = 0;
    }
    current.push(delivery);
    events += n;
    links += l;
  }
  if (current.length) out.push(current);
  return out;
}

/** Writes a group in one D1 batch; answers the error when it fails (StatementBudgetExceeded: not run). */
async function tryWrite(deps: Deps, group: Buffered[], budget: StatementBudget): Promise<unknown> {
  try {
    await writeBuffered(
      deps.ingest,
      group.map((d) => d.body),
      { restartEntries: group.some((d) => d.message.attempts > 1), budget },
    );
    return null;
  } catch (error) {
    if (error instanceof StatementBudgetExceeded) return error;
    log.warn("buffered ingest write failed", { messages: group.map((d) => d.message.id), ...errorFields(error) });
    return error ?? new Error("write failed");
  }
}

/**
 * Messages this invocation has no D1 statements left for go back on the queue as new messages
 * (then acked): a later invocation writes them, and no delivery attempt is spent on them.
 * Two per send: each may be near the 128 KB message cap, a sendBatch takes 256 KB.
 */
async function defer(deps: Deps, deferred: Buffered[]): Promise<Failure<IngestEventsMessage>[]> {
  if (deferred.length === 0) return [];
  log.info("buffered ingest: messages deferred to a later invocation", { messages: deferred.length });
  try {
    for (const pair of chunk(deferred, 2))
      await sendAll(
        deps.ingest.ingestQueue,
        pair.map((d) => d.body),
      );
    return [];
  } catch (error) {
    return deferred.map((delivery) => ({ delivery, error }));
  }
}

/**
 * Buffered ingest: writes the events of up to 100 messages per D1 batch. A group that fails is
 * retried message by message, so one bad message is retried (and at last dead-lettered) alone.
 */
export const consumeIngestEvents = queueConsumer({
  queue: QUEUES.ingestEvents,
  run: async (deps, deliveries) => {
    const budget: StatementBudget = { remaining: STATEMENTS_PER_INVOCATION };
    const failures: Failure<IngestEventsMessage>[] = [];
    const deferred: Buffered[] = [];
    // Over the budget with nothing spent yet, a write can never fit this invocation: it fails (and is retried) instead.
    const deferrable = (error: unknown) =>
      error instanceof StatementBudgetExceeded && budget.remaining < STATEMENTS_PER_INVOCATION;
    const settle = (delivery: Buffered, error: unknown) => {
      if (deferrable(error)) deferred.push(delivery);
      else if (error) failures.push({ delivery, error });
    };
    for (const group of groups(deliveries)) {
      const error = await tryWrite(deps, group, budget);
      if (!error) continue;
      // A failed group is retried message by message, so one bad message is retried (at last dead-lettered) alone.
      const alone = group.length > 1 && !deferrable(error);
      for (const delivery of group) settle(delivery, alone ? await tryWrite(deps, [delivery], budget) : error);
    }
    return [...failures, ...(await defer(deps, deferred))];
  },
  describe: (body) => ({ events: body.events.length }),
});
