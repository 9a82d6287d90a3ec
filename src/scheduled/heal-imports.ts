import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { importJobs } from "../db/schema";
import { failJob } from "../services/imports/chunk";
import type { ImportDeps } from "../services/imports/jobs";
import { recoverStalled } from "./recover-stalled";

/** No chunk committed for this long means the job's message chain broke (lost, dead, crashed). */
export const IMPORT_STALL_MS = 5 * 60_000;
/** Re-enqueues without progress before the job is failed instead. */
export const MAX_RECOVERY_ATTEMPTS = 3;

/**
 * Finds import jobs whose progress stopped and re-enqueues them from their checkpoint; after
 * repeated attempts with no progress (every committed chunk resets the count) the job fails with
 * a message. A re-sent checkpoint that was in fact still running is harmless: the chunk ledger
 * lets only one commit through.
 */
export async function healStalledImports(
  deps: ImportDeps,
  now = Date.now(),
): Promise<{ requeued: number; failed: number }> {
  const stalled = await deps.db
    .select()
    .from(importJobs)
    .where(
      and(
        inArray(importJobs.status, ["pending", "processing"]),
        lt(importJobs.updatedAt, new Date(now - IMPORT_STALL_MS)),
      ),
    )
    .limit(100);
  return recoverStalled(stalled, {
    maxRecoveries: MAX_RECOVERY_ATTEMPTS,
    fail: (job) =>
      failJob(
        deps.db,
        job,
        `Import stalled at data row ${job.checkpointRow}: no progress after ${job.recoveryAttempts} recovery attempts`,
        new Date(now),
      ),
    claim: async (job) => {
      const [claimed] = await deps.db
        .update(importJobs)
        .set({ recoveryAttempts: sql`${importJobs.recoveryAttempts} + 1`, updatedAt: new Date(now) })
        .where(and(eq(importJobs.id, job.id), eq(importJobs.updatedAt, job.updatedAt)))
        .returning({ id: importJobs.id });
      return Boolean(claimed);
    },
    requeue: (job) => deps.queue.send({ jobId: job.id, offset: job.checkpointOffset }),
  });
}
