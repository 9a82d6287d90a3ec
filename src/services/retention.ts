import { and, asc, eq, isNotNull, lt, notInArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { archiveErasures, events, type StoredEvent } from "../db/schema";
import { archivePartKey, retentionCutoff, toNdjson, utcDay } from "./event-archive";

export type RetentionDeps = {
  db: Database;
  archive: R2Bucket;
  eventRetentionDays: number;
  emailBodyRetentionDays: number;
  auditRetentionDays: number;
};

/**
 * Per cron run: at most `maxSlices` slices of `sliceSize` rows, each one short D1 write that ingest
 * interleaves with (bench:retention: slices of 500 held ingest up for the whole run, slices of 100
 * didn't); 20 × 100 every 2 minutes is 1.44 M events a day.
 */
export type RetentionBudget = { sliceSize: number; maxSlices: number };
export const DEFAULT_RETENTION_BUDGET: RetentionBudget = { sliceSize: 100, maxSlices: 20 };

/** Users being erased: their events are about to be deleted, never archived (nor scrubbed again). */
const pendingErasures = (db: Database) =>
  db
    .select({ userId: archiveErasures.userId })
    .from(archiveErasures)
    // NOT NULL: one NULL in a NOT IN list would keep every event out.
    .where(and(eq(archiveErasures.state, "scrub_pending"), isNotNull(archiveErasures.userId)));

/**
 * Moves events that occurred before the retention cutoff to R2 (one NDJSON part per day per
 * slice), then deletes exactly those rows from D1. R2 first: a run that dies in between leaves the
 * rows in D1, and the next run writes them again (readers deduplicate by id). Events of people
 * being erased stay out of the archive.
 */
export async function archiveOldEvents(
  deps: RetentionDeps,
  now = new Date(),
  budget = DEFAULT_RETENTION_BUDGET,
): Promise<{ archivedEvents: number; archiveObjects: number }> {
  const cutoff = retentionCutoff(now, deps.eventRetentionDays);
  let archivedEvents = 0;
  let archiveObjects = 0;
  for (let slice = 0; slice < budget.maxSlices; slice++) {
    const rows = await deps.db
      .select()
      .from(events)
      .where(and(lt(events.occurredAt, cutoff), notInArray(events.userId, pendingErasures(deps.db))))
      .orderBy(asc(events.occurredAt), asc(events.id))
      .limit(budget.sliceSize);
    if (rows.length === 0) break;
    const days = new Map<string, StoredEvent[]>();
    for (const row of rows) days.set(utcDay(row.occurredAt), [...(days.get(utcDay(row.occurredAt)) ?? []), row]);
    for (const [day, dayRows] of days) {
      await deps.archive.put(archivePartKey(day, dayRows[0]!.id), toNdjson(dayRows), {
        httpMetadata: { contentType: "application/x-ndjson" },
        customMetadata: { events: String(dayRows.length) },
      });
      archiveObjects += 1;
    }
    const ids = JSON.stringify(rows.map((row) => row.id));
    await deps.db.run(sql`DELETE FROM events WHERE id IN (SELECT value FROM json_each(${ids}))`);
    archivedEvents += rows.length;
    if (rows.length < budget.sliceSize) break;
  }
  return { archivedEvents, archiveObjects };
}

/** Drops the rendered html/text of emails older than the body retention; the row and its status stay. */
export async function dropOldEmailBodies(
  deps: RetentionDeps,
  now = new Date(),
  budget = DEFAULT_RETENTION_BUDGET,
): Promise<number> {
  const before = now.getTime() - deps.emailBodyRetentionDays * 86_400_000;
  let dropped = 0;
  for (let slice = 0; slice < budget.maxSlices; slice++) {
    // The WHERE repeats emails_body_created_idx's condition so SQLite can use that partial index.
    const result = await deps.db.run(
      sql`UPDATE emails SET html = NULL, text = NULL WHERE rowid IN (SELECT rowid FROM emails
          WHERE (html IS NOT NULL OR text IS NOT NULL) AND created_at < ${before} LIMIT ${budget.sliceSize})`,
    );
    const changes = result.meta.changes ?? 0;
    dropped += changes;
    if (changes < budget.sliceSize) break;
  }
  return dropped;
}
