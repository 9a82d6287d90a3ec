import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type BackfillJob, backfillJobs, broadcasts, type ImportJob, importJobs } from "../db/schema";

/** How many stalled jobs one healing run looks at. */
const STALLED_SCAN = 100;

/** Import jobs still running whose progress stopped before `stalledBefore`. */
export function stalledImports(db: Database, stalledBefore: Date): Promise<ImportJob[]> {
  return db
    .select()
    .from(importJobs)
    .where(and(inArray(importJobs.status, ["pending", "processing"]), lt(importJobs.updatedAt, stalledBefore)))
    .limit(STALLED_SCAN);
}

/**
 * Counts a recovery attempt, only if the job is as it was seen: false when progress (or another
 * healer) got there first.
 */
export async function claimImportRecovery(db: Database, job: ImportJob, now: Date): Promise<boolean> {
  const [claimed] = await db
    .update(importJobs)
    .set({ recoveryAttempts: sql`${importJobs.recoveryAttempts} + 1`, updatedAt: now })
    .where(and(eq(importJobs.id, job.id), eq(importJobs.updatedAt, job.updatedAt)))
    .returning({ id: importJobs.id });
  return Boolean(claimed);
}

/**
 * Backfill jobs still running whose progress stopped before `stalledBefore`; a scheduled broadcast
 * waiting for its sendAt (its page message waits in the queue) has not stalled.
 */
export function stalledBackfills(db: Database, stalledBefore: Date): Promise<BackfillJob[]> {
  const waiting = sql`EXISTS (SELECT 1 FROM ${broadcasts} b WHERE b.id = ${backfillJobs.id} AND b.send_at > ${stalledBefore.getTime()})`;
  return db
    .select()
    .from(backfillJobs)
    .where(
      and(
        inArray(backfillJobs.status, ["pending", "processing"]),
        lt(backfillJobs.updatedAt, stalledBefore),
        sql`NOT (${backfillJobs.status} = 'pending' AND ${waiting})`,
      ),
    )
    .limit(STALLED_SCAN);
}

/** As claimImportRecovery, for a backfill job. */
export async function claimBackfillRecovery(db: Database, job: BackfillJob, now: Date): Promise<boolean> {
  const [claimed] = await db
    .update(backfillJobs)
    .set({ recoveryAttempts: sql`${backfillJobs.recoveryAttempts} + 1`, updatedAt: now })
    .where(and(eq(backfillJobs.id, job.id), eq(backfillJobs.updatedAt, job.updatedAt)))
    .returning({ id: backfillJobs.id });
  return Boolean(claimed);
}
