import { and, asc, inArray, sql } from "drizzle-orm";
import { runBatch } from "../db/client";
import { events, type StoredEvent } from "../db/schema";
import { chunkForParams } from "../lib/sql";
import { eventFilter } from "../services/events";
import { type JourneyRoutingDeps, routeToJourneys } from "./journey-routing";

export type ReplayInput = {
  eventIds?: string[];
  filter?: { event?: string; userId?: string; from?: Date; to?: Date };
  limit: number;
  dryRun: boolean;
};

export type ReplayError = { eventId: string; error: string };
export type ReplaySummary = { replayed: number; enrolled: number; exits: number; errors: ReplayError[] };
export type ReplayPreview = {
  results: Array<{
    eventId: string;
    journeys: Array<{ key: string; outcome: string }>;
    exits: Array<{ journey: string; enrollmentId: string }>;
  }>;
  errors: ReplayError[];
};

/** Stored events by id (unknown ids reported) or by filter, oldest occurrence first; one D1 round trip. */
async function loadEvents(
  deps: JourneyRoutingDeps,
  input: ReplayInput,
): Promise<{ found: StoredEvent[]; errors: ReplayError[] }> {
  const { db } = deps;
  if (input.eventIds) {
    const ids = [...new Set(input.eventIds)].slice(0, input.limit);
    const chunks = chunkForParams(ids, 1, 99);
    const results = (await runBatch(
      db,
      chunks.map((chunk) => db.select().from(events).where(inArray(events.id, chunk))),
    )) as StoredEvent[][];
    const byId = new Map(results.flat().map((event) => [event.id, event]));
    const found = ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
    const errors = ids.filter((id) => !byId.has(id)).map((eventId) => ({ eventId, error: "Event not found" }));
    return { found, errors };
  }
  const found = await db
    .select()
    .from(events)
    .where(and(...eventFilter(input.filter ?? {})))
    .orderBy(asc(events.occurredAt), asc(events.id))
    .limit(input.limit);
  return { found, errors: [] };
}

/**
 * Sends stored events through journey routing again: exits, waiting journeys and entries, every
 * entry guard included. The events are the stored rows (no new rows, original occurrence time);
 * contacts are not touched, so newer values are never overwritten by old events.
 */
export async function replayEvents(
  deps: JourneyRoutingDeps,
  input: ReplayInput & { dryRun: false },
): Promise<ReplaySummary>;
export async function replayEvents(
  deps: JourneyRoutingDeps,
  input: ReplayInput & { dryRun: true },
): Promise<ReplayPreview>;
export async function replayEvents(
  deps: JourneyRoutingDeps,
  input: ReplayInput,
): Promise<ReplaySummary | ReplayPreview> {
  const { found, errors } = await loadEvents(deps, input);
  const outcomes = await routeToJourneys(deps, found, { dryRun: input.dryRun });

  if (input.dryRun) {
    return {
      results: found.map((event) => {
        const outcome = outcomes.get(event.id)!;
        return {
          eventId: event.id,
          journeys: [
            ...outcome.journeys.map((j) => ({ key: j.journey, outcome: "would_enroll" })),
            ...outcome.skipped.map((s) => ({ key: s.journey, outcome: s.reason })),
          ],
          exits: outcome.exits,
        };
      }),
      errors,
    };
  }

  const now = new Date();
  await runBatch(
    deps.db,
    chunkForParams(
      found.map((e) => e.id),
      1,
      98,
    ).map((ids) =>
      deps.db
        .update(events)
        // A replay also completes routing for an event that was stored but never processed.
        .set({
          replayCount: sql`${events.replayCount} + 1`,
          lastReplayedAt: now,
          processedAt: sql`coalesce(${events.processedAt}, ${now.getTime()})`,
        })
        .where(inArray(events.id, ids)),
    ),
  );
  const all = [...outcomes.values()];
  return {
    replayed: found.length,
    enrolled: all.reduce((n, o) => n + o.journeys.length, 0),
    exits: all.reduce((n, o) => n + o.exits.length, 0),
    errors,
  };
}
