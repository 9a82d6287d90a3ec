/**
 * The recovery policy shared by stalled imports and backfills: a job that has been re-enqueued
 * `maxRecoveries` times without progress fails; any other is claimed (so two healers, or progress
 * that lands meanwhile, can't both win) and re-enqueued from its checkpoint.
 */
export async function recoverStalled<Job extends { recoveryAttempts: number }>(
  stalled: Job[],
  steps: {
    maxRecoveries: number;
    fail: (job: Job) => Promise<unknown>;
    /** False when progress (or another healer) got there first. */
    claim: (job: Job) => Promise<boolean>;
    requeue: (job: Job) => Promise<unknown>;
  },
): Promise<{ requeued: number; failed: number }> {
  let requeued = 0;
  let failed = 0;
  for (const job of stalled) {
    if (job.recoveryAttempts >= steps.maxRecoveries) {
      await steps.fail(job);
      failed += 1;
    } else if (await steps.claim(job)) {
      await steps.requeue(job);
      requeued += 1;
    }
  }
  return { requeued, failed };
}
