import { z } from "zod";
import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import { BACKFILL_MAX_RETRIES } from "../lib/queues";
import { processBackfillPage } from "../pipeline/backfill-page";
import { failBackfill, loadBackfill } from "../services/backfills/jobs";

const MessageSchema = z.object({ jobId: z.string().min(1).max(64), cursor: z.string().max(64) });

/** The first delivery plus every retry. */
const LAST_ATTEMPT = BACKFILL_MAX_RETRIES + 1;

/**
 * One page per message (max_batch_size = 1 keeps each invocation's D1 work bounded). A page that
 * throws is retried from the same cursor; on its last delivery the job fails with the page's error.
 */
export async function consumeBackfills(batch: MessageBatch<unknown>, deps: Deps) {
  for (const message of batch.messages) {
    const parsed = MessageSchema.safeParse(message.body);
    if (!parsed.success) {
      log.error("malformed backfill message", { queue: batch.queue, messageId: message.id });
      message.ack();
      continue;
    }
    const { jobId, cursor } = parsed.data;
    try {
      const outcome = await processBackfillPage(deps.backfills, parsed.data);
      log.info("backfill page", { queue: batch.queue, jobId, cursor, outcome });
      message.ack();
    } catch (error) {
      log.error("backfill page failed", {
        queue: batch.queue,
        jobId,
        attempt: message.attempts,
        ...errorFields(error),
      });
      if (message.attempts < LAST_ATTEMPT) {
        message.retry();
        continue;
      }
      const job = await loadBackfill(deps.db, jobId);
      const error_ = `Backfill stopped after ${message.attempts} failed attempts at contact cursor "${job?.cursor ?? cursor}": ${String(error)}`;
      await failBackfill(deps.db, jobId, error_);
      message.ack();
    }
  }
}
