import { log } from "../lib/log";
import { QUEUES } from "../lib/queues";
import { processBackfillPage } from "../pipeline/backfill-page";
import { failBackfillAfterRetries } from "../services/backfills/jobs";
import { eachMessage, queueConsumer } from "./consume";

/**
 * One page per message (max_batch_size = 1 keeps each invocation's D1 work bounded). A page that
 * throws is retried from the same cursor; on its last delivery the job fails with the page's error.
 */
export const consumeBackfills = queueConsumer({
  queue: QUEUES.backfills,
  run: eachMessage(async (deps, body) => {
    const outcome = await processBackfillPage(deps.backfills, body);
    log.info("backfill page", { queue: QUEUES.backfills.name, ...body, outcome });
  }),
  onLastAttempt: (deps, body, attempts, error) => failBackfillAfterRetries(deps.db, body, attempts, error),
  describe: (body) => ({ jobId: body.jobId, cursor: body.cursor }),
});
