import { plan } from "../db/batch-plan";
import type { Broadcast } from "../db/schema";
import { chunk } from "../lib/chunk";
import { insertPageEmails, outcomeOfWhy, pageQueuedEmailIds, previewFates } from "../services/broadcasts/fates";
import { tallyStatements } from "./backfill-tallies";
import type { BackfillPageDeps, PageAction } from "./page-action";

/** A queue's `sendBatch` takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

/**
 * A broadcast's page: an email row per contact, decided (suppression, unsubscribe, topic opt-out,
 * address, daily cap) in the page's commit; the queued ones then go to the email-send queue, where
 * delivery checks every rule again and sends. A dry run commits only the counts.
 *
 * With `ratePerMinute`, a page holds at most a minute's worth of emails, its sends are spread over
 * `rows / rate` minutes with per-message delays, and the next page waits as long: the one chain of
 * page messages releases emails at the rate however many consumers send them.
 */
export function broadcastAction(deps: BackfillPageDeps, broadcast: Broadcast): PageAction<string[]> {
  const { db, hash } = deps;
  const rate = broadcast.ratePerMinute;
  return {
    notBefore: broadcast.sendAt,
    async decide(job, page, now) {
      const input = { broadcast, rows: page.rows, max: deps.sending.maxPerAddressPerDay, now };
      if (!job.dryRun) {
        // The rows this commit queued come back from the insert: no read after the commit.
        const { statement } = await insertPageEmails(db, hash, input);
        return plan([statement], ([rows]) =>
          (rows as Array<{ id: string; status: string }>).flatMap((r) => (r.status === "queued" ? [r.id] : [])),
        );
      }
      const fates = await previewFates(db, hash, input);
      return plan(
        tallyStatements(
          db,
          job.id,
          fates.map((f) => outcomeOfWhy(f.why)),
        ),
        () => [],
      );
    },
    async handOut(job, span, decided) {
      if (job.dryRun) return;
      const ids = decided ?? (await pageQueuedEmailIds(db, broadcast.id, span));
      const spacing = rate ? 60 / rate : 0;
      for (const [n, slice] of chunk(ids, SEND_BATCH_MAX).entries()) {
        await deps.emailSends.sendBatch(
          slice.map((emailId, i) => {
            const delaySeconds = Math.floor((n * SEND_BATCH_MAX + i) * spacing);
            return delaySeconds > 0 ? { body: { emailId }, delaySeconds } : { body: { emailId } };
          }),
        );
      }
    },
    nextPageDelay: (rows) => (rate ? Math.ceil((rows * 60) / rate) : 0),
  };
}
