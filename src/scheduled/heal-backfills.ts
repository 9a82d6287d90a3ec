import { type BackfillDeps, failBackfill } from "../services/backfills/jobs";
import { claimBackfillRecovery, stalledBackfills } from "../services/stalled-jobs";
import { recoverStalled } from "./recover-stalled";

/** No page committed for this long means the job's message chain broke (lost, dead, crashed). */
export const BACKFILL_STALL_MS = 5 * 60_000;
/** Re-enqueues without progress before the job is failed instead. */
export const MAX_BACKFILL_RECOVERIES = 3;

/**
 * Re-enqueues backfills whose progress stopped, from their cursor; after repeated attempts with no
 * progress (every committed page resets the count) the job fails with a message. A re-sent cursor
 * that was in fact still running is harmless: the page ledger lets only one commit through.
 */
export async function healStalledBackfills(
  deps: BackfillDeps,
  now = Date.now(),
): Promise<{ requeued: number; failed: number }> {
  const stalled = await stalledBackfills(deps.db, new Date(now - BACKFILL_STALL_MS));
  return recoverStalled(stalled, {
    maxRecoveries: MAX_BACKFILL_RECOVERIES,
    fail: (job) =>
      failBackfill(
        deps.db,
        job.id,
        `Backfill stalled at contact cursor "${job.cursor}": no progress after ${job.recoveryAttempts} recovery attempts`,
        new Date(now),
      ),
    claim: (job) => claimBackfillRecovery(deps.db, job, new Date(now)),
    requeue: (job) => deps.queue.send({ jobId: job.id, cursor: job.cursor }),
  });
}
