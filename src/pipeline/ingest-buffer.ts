import { type StatementBudget, StatementBudgetExceeded } from "../db/batch-plan";
import type { StoredEvent } from "../db/schema";
import { log } from "../lib/log";
import { type BufferedEvent, type IngestEventsMessage, sendAll } from "../lib/queues";
import { activeEnrollmentsTriggeredBy } from "../services/enrollments";
import { findKnownKeys, rememberKeys } from "../services/idempotency";
import { enqueueStarts } from "../services/workflow-instances";
import {
  type IngestDeps,
  type IngestItem,
  type IngestResult,
  type IngestSource,
  ingestEvents,
  toEventRows,
  writeEvents,
} from "./ingest";

// The consumer spends its invocation's D1 statements through these.
export { type StatementBudget, StatementBudgetExceeded } from "../db/batch-plan";

export type BufferDeps = IngestDeps & { ingestQueue: Queue<IngestEventsMessage> };

export type BufferResult = { accepted: true; eventId: string } | { accepted: true; duplicate: true };

/**
 * KV has no bulk put: each remembered key is a subrequest (50 per invocation on the Free plan,
 * 1000 on Paid), and locally 100 puts held a batch's answer for seconds. Requests of up to this
 * many events teach KV their keys (webhook retries are single events); a re-sent batch's repeats
 * are queued and refused by D1 in the consumer instead.
 */
const REMEMBER_MAX_KEYS = 10;

/** At most this many events per message and per consumer D1 batch. */
export const EVENTS_PER_WRITE = 100;
/** Queue messages are ≤128 KB and a sendBatch ≤256 KB; properties are ≤64 KB, so two fit a call. */
const MESSAGE_MAX_BYTES = 120 * 1024;

const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/**
 * The buffered path (`Prefer: respond-async`, PostHog by default): acknowledged after the queue
 * send, written by the ingest-events consumer with the same exact deduplication (D1 decides).
 * The KV lookup runs concurrently with the send, so a key KV already knows is answered as a
 * duplicate (its queued copy then changes nothing); a key repeated within the request is sent once.
 */
export async function bufferEvents(
  deps: BufferDeps,
  items: IngestItem[],
  source: IngestSource,
): Promise<BufferResult[]> {
  const keys = items.flatMap((item) => (item.idempotencyKey ? [item.idempotencyKey] : []));
  const seen = new Set<string>();
  const rows = toEventRows(items, source).map((row) => {
    const key = row.idempotencyKey;
    if (key && seen.has(key)) return null;
    if (key) seen.add(key);
    return toBuffered(row as StoredEvent);
  });
  const [known] = await Promise.all([
    keys.length ? findKnownKeys(deps.idempotencyKeys, keys) : new Set<string>(),
    sendEvents(
      deps.ingestQueue,
      source,
      rows.filter((row): row is BufferedEvent => row !== null),
    ),
  ]);
  const sentKeys = rows.flatMap((row) => (row?.idempotencyKey ? [row.idempotencyKey] : []));
  if (sentKeys.length && sentKeys.length <= REMEMBER_MAX_KEYS) {
    // A key is "seen" once its event is durably queued: the consumer stores it (or D1 already has it).
    const remember = rememberKeys(deps.idempotencyKeys, sentKeys, deps.idempotencyTtlSeconds);
    if (deps.waitUntil) deps.waitUntil(remember);
    else await remember;
  }
  return rows.map((row) =>
    row && !(row.idempotencyKey && known.has(row.idempotencyKey))
      ? { accepted: true, eventId: row.id }
      : { accepted: true, duplicate: true },
  );
}

const toBuffered = (row: StoredEvent): BufferedEvent => ({
  id: row.id,
  event: row.event,
  userId: row.userId,
  userEmail: row.userEmail,
  properties: row.properties,
  idempotencyKey: row.idempotencyKey,
  occurredAt: row.occurredAt.getTime(),
  receivedAt: row.receivedAt.getTime(),
  anonymous: row.anonymous,
  contactUpdate: row.contactUpdate,
});

const fromBuffered = (event: BufferedEvent, source: IngestSource): StoredEvent => ({
  ...event,
  anonymous: event.anonymous ?? false,
  contactUpdate: event.contactUpdate ?? null,
  source,
  occurredAt: new Date(event.occurredAt),
  receivedAt: new Date(event.receivedAt),
  processedAt: null,
  healAttempts: 0,
  replayCount: 0,
  lastReplayedAt: null,
});

/** Packs events into messages under the size limits, then sends them in bounded sendBatch calls. */
async function sendEvents(queue: Queue<IngestEventsMessage>, source: IngestSource, events: BufferedEvent[]) {
  const messages: IngestEventsMessage[] = [];
  let current: BufferedEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = bytesOf(event);
    if (current.length && (current.length === EVENTS_PER_WRITE || bytes + size > MESSAGE_MAX_BYTES)) {
      messages.push({ source, events: current });
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length) messages.push({ source, events: current });
  // Two full messages per call keeps each sendBatch under its 256 KB total.
  for (let i = 0; i < messages.length; i += 2) await sendAll(queue, messages.slice(i, i + 2));
}

/**
 * The consumer's write: the events of several messages in one D1 batch (the same plan as
 * synchronous ingest, so duplicates and redeliveries change nothing), then workflow side effects
 * inline (KV learned the keys when they were queued). A redelivery (`restartEntries`) also
 * re-queues the starts of enrollments its events made earlier: the first delivery may have died
 * after its commit.
 */
export async function writeBuffered(
  deps: IngestDeps,
  messages: IngestEventsMessage[],
  options: { restartEntries: boolean; budget?: StatementBudget },
): Promise<void> {
  const rows = messages.flatMap((message) => message.events.map((event) => fromBuffered(event, message.source)));
  const { refusedMerges } = await writeEvents({ ...deps, waitUntil: undefined }, rows, {
    insert: true,
    budget: options.budget,
  });
  if (refusedMerges.size > 0) {
    // Nobody waits for these answers: the log line says which stored events left their contact's properties alone.
    log.warn("contact properties limit: events stored, properties not merged", { eventIds: [...refusedMerges] });
  }
  if (options.restartEntries) {
    const enrollmentIds = await activeEnrollmentsTriggeredBy(deps.db, rows);
    await enqueueStarts(deps.journeyStarts, enrollmentIds);
  }
}

/**
 * D1 counts each statement of a batch against its 1,000 queries per invocation (Workers Paid), and
 * a request is one invocation: a synchronous batch's write spends at most this many.
 */
export const SYNC_STATEMENTS_PER_REQUEST = 900;

/**
 * `POST /v1/ingest/batch`, answered synchronously: the items are written in one D1 batch when it
 * fits the request's statement budget (most batches: 500 sign-ups of different people take ~170).
 * When it doesn't (hundreds of events of one person, hundreds of exits), the longest leading run
 * that fits is written synchronously and the rest is buffered (queued) as with `Prefer:
 * respond-async`, answering `accepted`: nothing is refused, nothing is lost.
 */
export async function ingestWithinBudget(
  deps: BufferDeps,
  items: IngestItem[],
  source: IngestSource,
): Promise<Array<IngestResult | BufferResult>> {
  let take = items.length;
  for (;;) {
    try {
      const budget = { remaining: SYNC_STATEMENTS_PER_REQUEST };
      const written = await ingestEvents(deps, items.slice(0, take), source, { budget });
      const buffered = take < items.length ? await bufferEvents(deps, items.slice(take), source) : [];
      return [...written, ...buffered];
    } catch (error) {
      // Statements grow about linearly with events: scale the run down by what it overspent.
      if (!(error instanceof StatementBudgetExceeded) || take <= 1) throw error;
      take = Math.max(1, Math.min(take - 1, Math.floor((take * error.remaining) / error.needed)));
    }
  }
}
