import { failJob } from "../services/imports/chunk";
import type { ImportDeps } from "../services/imports/jobs";
import { claimImportRecovery, stalledImports } from "../services/stalled-jobs";
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
  const stalled = await stalledImports(deps.db, new Date(now - IMPORT_STALL_MS));
  return recoverStalled(stalled, {
    maxRecoveries: MAX_RECOVERY_ATTEMPTS,
    fail: (job) =>
      failJob(
        deps.db,
        job,
        `Import stalled at data row ${job.checkpointRow}: no progress after ${job.recoveryAttempts} recovery attempts`,
        new Date(now),
      ),
    claim: (job) => claimImportRecovery(deps.db, job, new Date(now)),
    requeue: (job) => deps.queue.send({ jobId: job.id, offset: job.checkpointOffset }),
  });
}
