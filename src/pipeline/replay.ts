import { and, asc, inArray, sql } from "drizzle-orm";
import { runBatch } from "../db/client";
import { events, type StoredEvent } from "../db/schema";
import { propertiesProblem } from "../lib/properties";
import { chunkForParams } from "../lib/sql";
import { pendingErasedUserIds } from "../services/archive-erasures";
import { type AuditDraft, auditStatements } from "../services/audit-log";
import { readArchivedEvents, retentionCutoff } from "../services/event-archive";
import { eventFilter } from "../services/events";
import { type JourneyRoutingDeps, routeToJourneys } from "./journey-routing";

/** With an archive, replay by filter also reads the events retention moved to R2. */
export type ReplayDeps = JourneyRoutingDeps & { archive?: R2Bucket; eventRetentionDays?: number };

export type ReplayInput = {
  eventIds?: string[];
  filter?: { event?: string; userId?: string; from?: Date; to?: Date };
  limit: number;
  dryRun: boolean;
  /** Written with the routing decisions: the replay's first write. */
  audit?: AuditDraft;
};

export type ReplayError = { eventId: string; error: string };
/** Set when the filter's window reached archived days: how many replayed events came from R2. */
export type ArchiveUse = { events: number; objectsRead: number; stoppedAtDay: string | null };
export type ReplaySummary = {
  replayed: number;
  enrolled: number;
  exits: number;
  errors: ReplayError[];
  archive?: ArchiveUse;
};
export type ReplayPreview = {
  results: Array<{
    eventId: string;
    journeys: Array<{ key: string; outcome: string }>;
    exits: Array<{ journey: string; enrollmentId: string }>;
  }>;
  errors: ReplayError[];
  archive?: ArchiveUse;
};

type Loaded = { found: StoredEvent[]; errors: ReplayError[]; archive?: ArchiveUse };

/** Stored events by id (unknown ids reported) or by filter, oldest occurrence first; one D1 round trip. */
async function loadEvents(deps: ReplayDeps, input: ReplayInput): Promise<Loaded> {
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
  const filter = input.filter ?? {};
  const [stored, archived] = await Promise.all([
    db
      .select()
      .from(events)
      .where(and(...eventFilter(filter)))
      .orderBy(asc(events.occurredAt), asc(events.id))
      .limit(input.limit),
    readArchiveIfReached(deps, filter, input.limit),
  ]);
  if (!archived || archived.objectsRead === 0) return { found: stored, errors: [] };
  const { found, fromArchive } = mergeOldestFirst(stored, archived.events, input.limit);
  const { objectsRead, stoppedAtDay } = archived;
  return { found, errors: [], archive: { events: fromArchive, objectsRead, stoppedAtDay } };
}

/**
 * The archive is read when the window starts before the retention cutoff (or has no start),
 * leaving out erased people whose archived lines the scrub hasn't removed yet.
 */
async function readArchiveIfReached(deps: ReplayDeps, filter: NonNullable<ReplayInput["filter"]>, limit: number) {
  if (!deps.archive || !deps.eventRetentionDays) return null;
  const cutoff = retentionCutoff(new Date(), deps.eventRetentionDays);
  if (filter.from && filter.from >= cutoff) return null;
  const skipUserIds = await pendingErasedUserIds(deps.db, filter.userId ? [filter.userId] : undefined);
  return readArchivedEvents(deps.archive, { ...filter, skipUserIds }, { limit });
}

/** D1 rows win over archived copies of the same id (a retention run that died before its delete). */
function mergeOldestFirst(stored: StoredEvent[], archived: StoredEvent[], limit: number) {
  const ids = new Set(stored.map((e) => e.id));
  const all = [...stored, ...archived.filter((e) => !ids.has(e.id))];
  all.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.id.localeCompare(b.id));
  const found = all.slice(0, limit);
  return { found, fromArchive: found.filter((e) => !ids.has(e.id)).length };
}

/** Events stored before the property caps existed are reported, not routed (they would fail the batch). */
function withinPropertyCaps(loaded: { found: StoredEvent[]; errors: ReplayError[] }) {
  const errors = [...loaded.errors];
  const found = loaded.found.filter((event) => {
    const problem = propertiesProblem(event.properties);
    if (problem) errors.push({ eventId: event.id, error: `properties ${problem}` });
    return !problem;
  });
  return { found, errors };
}

/**
 * Sends stored events through journey routing again: exits, waiting journeys and entries, every
 * entry guard included. The events are the stored rows (no new rows, original occurrence time);
 * contacts are not touched, so newer values are never overwritten by old events. Archived events
 * (read back from R2) keep their id but have no row to count the replay on.
 */
export async function replayEvents(deps: ReplayDeps, input: ReplayInput & { dryRun: false }): Promise<ReplaySummary>;
export async function replayEvents(deps: ReplayDeps, input: ReplayInput & { dryRun: true }): Promise<ReplayPreview>;
export async function replayEvents(deps: ReplayDeps, input: ReplayInput): Promise<ReplaySummary | ReplayPreview> {
  const loaded = await loadEvents(deps, input);
  const { found, errors } = withinPropertyCaps(loaded);
  const { archive } = loaded;
  const before = auditStatements(deps.db, input.audit);
  const outcomes = await routeToJourneys(deps, found, { dryRun: input.dryRun, before });

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
      ...(archive && { archive }),
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
    ...(archive && { archive }),
  };
}
