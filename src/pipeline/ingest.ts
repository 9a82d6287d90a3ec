import { runBatch } from "../db/client";
import type { Properties, StoredEvent } from "../db/schema";
import { newId } from "../lib/ids";
import { contactUpsertStatements } from "../services/contacts";
import { insertEventsDeduplicated, markProcessedStatements, type NewEvent } from "../services/events";
import { findKnownKeys, rememberKeys } from "../services/idempotency";
import {
  type JourneyEntry,
  type JourneyExit,
  type JourneyRoutingDeps,
  type JourneySkip,
  routeToJourneys,
} from "./journey-routing";

export type IngestItem = {
  event: string;
  userId: string;
  userEmail?: string;
  properties?: Properties;
  idempotencyKey?: string;
  timestamp?: string;
};

export type IngestSource = NewEvent["source"];

export type EventProcessingDeps = JourneyRoutingDeps & {
  /** POSTHOG_CAN_CHANGE_EMAIL: PostHog events may replace an address, not only fill a missing one. */
  postHogCanChangeEmail?: boolean;
};

export type IngestDeps = EventProcessingDeps & {
  idempotencyKeys: KVNamespace;
  idempotencyTtlSeconds: number;
  /** Lets KV writes finish after the response (ctx.waitUntil); awaited inline when absent. */
  waitUntil?: (promise: Promise<unknown>) => void;
};

export type IngestResult =
  | { stored: true; eventId: string; journeys: JourneyEntry[]; exits: JourneyExit[]; skipped: JourneySkip[] }
  | { stored: false; duplicate: true; journeys: []; exits: []; skipped: [] };

const DUPLICATE: IngestResult = { stored: false, duplicate: true, journeys: [], exits: [], skipped: [] };

/**
 * The pipeline after storage: contact upsert and journey routing (one D1 batch) → mark processed. Also run by
 * self-healing for events whose processing never finished (`onlyIfNewer` then keeps a late event
 * from overwriting newer contact data).
 */
export async function processStoredEvents(
  deps: EventProcessingDeps,
  stored: StoredEvent[],
  options: { now?: Date; onlyIfNewer?: boolean } = {},
) {
  const { db } = deps;
  const contactUpserts = contactUpsertStatements(
    db,
    stored.map((event) => ({
      externalId: event.userId,
      email: event.userEmail,
      properties: event.properties,
      seenAt: event.occurredAt,
      source: event.source,
      eventId: event.id,
      // A PostHog event can be captured in a browser by anyone holding the public project key.
      emailPolicy: event.source === "posthog" && !deps.postHogCanChangeEmail ? "fill" : "replace",
    })),
    options,
  );
  const routing = await routeToJourneys(deps, stored, { before: contactUpserts });
  await runBatch(
    db,
    markProcessedStatements(
      db,
      stored.map((event) => event.id),
    ),
  );
  return routing;
}

/**
 * dedup → store → contact upsert → journey routing → mark processed.
 * A duplicate is dropped before anything else happens. D1 round trips are constant in the number
 * of items: one batch stores the events, one upserts contacts and routes them, one marks them processed.
 */
export async function ingestEvents(
  deps: IngestDeps,
  items: IngestItem[],
  source: IngestSource,
): Promise<IngestResult[]> {
  const { db } = deps;
  const receivedAt = new Date();
  const keyed = items.flatMap((item) => (item.idempotencyKey ? [item.idempotencyKey] : []));
  const knownKeys = keyed.length ? await findKnownKeys(deps.idempotencyKeys, keyed) : new Set<string>();

  const rows: Array<NewEvent | null> = items.map((item) =>
    item.idempotencyKey && knownKeys.has(item.idempotencyKey)
      ? null
      : {
          id: newId(),
          event: item.event,
          userId: item.userId,
          userEmail: item.userEmail ?? null,
          properties: item.properties ?? {},
          idempotencyKey: item.idempotencyKey ?? null,
          source,
          occurredAt: item.timestamp ? new Date(item.timestamp) : receivedAt,
          receivedAt,
        },
  );
  const storedIds = await insertEventsDeduplicated(
    db,
    rows.filter((row): row is NewEvent => row !== null),
  );
  const stored = rows.filter((row): row is NewEvent => row !== null && storedIds.has(row.id)) as StoredEvent[];

  const routing = await processStoredEvents(deps, stored, { now: receivedAt });

  // Keys decided by D1 (stored now or refused as duplicates) go to the fast path for next time.
  const decidedKeys = rows.flatMap((row) => (row?.idempotencyKey ? [row.idempotencyKey] : []));
  if (decidedKeys.length) {
    const remember = rememberKeys(deps.idempotencyKeys, decidedKeys, deps.idempotencyTtlSeconds);
    if (deps.waitUntil) deps.waitUntil(remember);
    else await remember;
  }

  return rows.map((row) => {
    if (!row || !storedIds.has(row.id)) return DUPLICATE;
    const outcome = routing.get(row.id)!;
    return { stored: true, eventId: row.id, ...outcome };
  });
}
