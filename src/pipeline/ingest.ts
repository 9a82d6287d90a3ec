import { type BatchPlan, plan, runPlans, type StatementBudget, sequence, spend, writes } from "../db/batch-plan";
import type { Database } from "../db/client";
import type { ContactUpdate, Properties, StoredEvent } from "../db/schema";
import { newId } from "../lib/ids";
import { PROPERTIES_LIMIT_OUTCOME } from "../services/contact-properties";
import { contactUpsertPlan } from "../services/contacts";
import { erasureKeys } from "../services/erasure-markers";
import { insertEventsPlan, markProcessedStatements, type NewEvent } from "../services/events";
import { eventIdentityStatements } from "../services/identity/event-identity";
import {
  type AddressHashes,
  applyToWorkflows,
  eventAddressHashes,
  type JourneyEntry,
  type JourneyExit,
  type JourneyRoutingDeps,
  type JourneySkip,
  type RoutingOutcome,
  routingOutcomes,
  routingPlan,
} from "./journey-routing";

export type IngestItem = {
  event: string;
  userId: string;
  userEmail?: string;
  properties?: Properties;
  idempotencyKey?: string;
  timestamp?: string;
  /** Stored, but no contact and no journey (an unidentified PostHog visitor). */
  anonymous?: boolean;
  /** How the contact's properties change, when not by merging `properties` (PostHog's person model). */
  contactUpdate?: ContactUpdate;
};

export type IngestSource = NewEvent["source"];

/** POSTHOG_EMAIL_POLICY: what a PostHog event's address does to its contact (default: nothing). */
export type PostHogEmailPolicy = "none" | "fill" | "replace";

export type EventProcessingDeps = JourneyRoutingDeps & { postHogEmail?: PostHogEmailPolicy };

export type IngestDeps = EventProcessingDeps & {
  idempotencyKeys: KVNamespace;
  idempotencyTtlSeconds: number;
  /** Lets workflow calls and KV writes finish after the response (ctx.waitUntil); awaited inline when absent. */
  waitUntil?: (promise: Promise<unknown>) => void;
};

export type IngestResult =
  | {
      stored: true;
      eventId: string;
      journeys: JourneyEntry[];
      exits: JourneyExit[];
      skipped: JourneySkip[];
      /** Present when the contact's properties were left as they were: the merge would pass the contact caps. */
      contactUpdate?: typeof PROPERTIES_LIMIT_OUTCOME;
    }
  | { stored: false; duplicate: true; journeys: []; exits: []; skipped: [] };

const DUPLICATE: IngestResult = { stored: false, duplicate: true, journeys: [], exits: [], skipped: [] };

/** Items as the rows they will be, ids assigned now (the buffered path answers with them). */
export function toEventRows(items: IngestItem[], source: IngestSource, receivedAt = new Date()): NewEvent[] {
  return items.map((item) => ({
    id: newId(),
    event: item.event,
    userId: item.userId,
    userEmail: item.userEmail ?? null,
    properties: item.properties ?? {},
    idempotencyKey: item.idempotencyKey ?? null,
    source,
    occurredAt: item.timestamp ? new Date(item.timestamp) : receivedAt,
    receivedAt,
    anonymous: item.anonymous ?? false,
    contactUpdate: item.contactUpdate ?? null,
  }));
}

type WriteOptions = {
  /** Insert the rows first (ingest); without it they are already stored (self-healing). */
  insert: boolean;
  postHogEmail?: PostHogEmailPolicy;
  now?: Date;
  onlyIfNewer?: boolean;
  /** The events' hashed addresses, for the entry guards (see journey-routing). */
  addressHashes?: AddressHashes;
  /** The events' hashed user ids, for the insert's erasure check (see services/erasure-markers). */
  erasureKeys?: Map<string, string>;
  /** The invocation's D1 statements left: a batch that needs more is not run (StatementBudgetExceeded). */
  budget?: StatementBudget;
};

type Written = {
  storedIds: Set<string>;
  /** Events whose properties their contact couldn't take (the contact caps). */
  refusedMerges: Set<string>;
  decided: Parameters<typeof routingOutcomes>[1];
};

/**
 * Everything an event causes in D1, as one batch (one round trip, one transaction): insert →
 * identity (claims, PostHog links: services/identity/event-identity) → contact upserts (each round led by its check of the contact caps) → exits, waiting journeys,
 * entries → processed mark. Every statement after the
 * insert runs only while its event is stored and unprocessed (db/guarded), so a duplicate, a
 * redelivery or a second healer changes nothing.
 */
function writePlan(db: Database, events: StoredEvent[], options: WriteOptions): BatchPlan<Written> {
  const ids = events.map((event) => event.id);
  const postHogEmail = options.postHogEmail ?? "none";
  const contactUpserts = contactUpsertPlan(
    db,
    events
      .filter((event) => !event.anonymous)
      .map((event) => {
        // A PostHog event can be captured in a browser by anyone holding the public project key.
        const untrusted = event.source === "posthog";
        return {
          externalId: event.userId,
          email: untrusted && postHogEmail === "none" ? null : event.userEmail,
          properties: event.contactUpdate?.set ?? event.properties,
          setOnce: event.contactUpdate?.setOnce,
          seenAt: event.occurredAt,
          source: event.source,
          eventId: event.id,
          emailPolicy: !untrusted ? "replace" : postHogEmail === "replace" ? "untrusted_replace" : "fill",
          onlyIfEventPending: event.id,
        };
      }),
    options,
  );
  const identity = eventIdentityStatements(db, events, options.now ?? new Date());
  const all = sequence(
    options.insert ? insertEventsPlan(db, events, options.erasureKeys ?? new Map()) : plan([], () => new Set(ids)),
    writes(identity.before),
    contactUpserts,
    writes(identity.after),
    routingPlan(db, events, { onlyPending: true, addressHashes: options.addressHashes }),
    writes(markProcessedStatements(db, ids, options.now)),
  );
  return plan(all.statements, (results) => {
    const [storedIds, , refusedMerges, , decided] = all.decode(results);
    return { storedIds, refusedMerges, decided };
  });
}

/**
 * Writes events (or, without `insert`, processes stored ones) in one D1 batch, then hands the
 * committed decisions to the workflows. Returns the ids this call stored and their outcomes.
 */
export async function writeEvents(
  deps: EventProcessingDeps & { waitUntil?: (promise: Promise<unknown>) => void },
  events: StoredEvent[],
  options: WriteOptions,
): Promise<{ storedIds: Set<string>; refusedMerges: Set<string>; outcomes: Map<string, RoutingOutcome> }> {
  if (events.length === 0) return { storedIds: new Set(), refusedMerges: new Set(), outcomes: new Map() };
  // Hashed here, before the batch: still one round trip.
  const [addressHashes, keys] = await Promise.all([
    eventAddressHashes(deps.hash, events),
    options.insert
      ? erasureKeys(
          deps.hash,
          events.map((event) => event.userId),
        )
      : undefined,
  ]);
  const planned = writePlan(deps.db, events, {
    ...options,
    postHogEmail: deps.postHogEmail,
    addressHashes,
    erasureKeys: keys,
  });
  spend(options.budget, planned);
  const [{ storedIds, refusedMerges, decided }] = await runPlans(deps.db, planned);
  await applyToWorkflows(deps, events, decided, deps.waitUntil);
  return { storedIds, refusedMerges, outcomes: routingOutcomes(events, decided) };
}

/**
 * The pipeline after storage, for events whose processing never finished (self-healing):
 * `onlyIfNewer` keeps a late event from overwriting newer contact data.
 */
export async function processStoredEvents(
  deps: EventProcessingDeps,
  stored: StoredEvent[],
  options: { now?: Date; onlyIfNewer?: boolean } = {},
) {
  return (await writeEvents(deps, stored, { ...options, insert: false })).outcomes;
}

/**
 * Synchronous ingest: one D1 round trip for any number of items (store, contact upsert, routing,
 * processed mark), the D1 unique index deciding duplicates. KV is not involved: D1 answers
 * "duplicate" in the same round trip, and a KV put per keyed event (500 subrequests for a full
 * batch) would cost more than the buffered path's occasional no-op write of a repeated key.
 */
export async function ingestEvents(
  deps: EventProcessingDeps & Pick<IngestDeps, "waitUntil">,
  items: IngestItem[],
  source: IngestSource,
  options: { budget?: StatementBudget } = {},
): Promise<IngestResult[]> {
  const receivedAt = new Date();
  const rows = toEventRows(items, source, receivedAt) as StoredEvent[];
  const { storedIds, refusedMerges, outcomes } = await writeEvents(deps, rows, {
    insert: true,
    now: receivedAt,
    budget: options.budget,
  });
  return rows.map((row) => {
    if (!storedIds.has(row.id)) return DUPLICATE;
    const refused = refusedMerges.has(row.id) ? { contactUpdate: PROPERTIES_LIMIT_OUTCOME } : {};
    return { stored: true, eventId: row.id, ...outcomes.get(row.id)!, ...refused };
  });
}
