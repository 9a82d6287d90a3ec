import { sql } from "drizzle-orm";
import { type BatchStatement, type Database, runBatch } from "../../db/client";

/** Settled deliveries (delivered or dead) and their attempt log are kept this long, then pruned. */
export const WEBHOOK_DELIVERY_RETENTION_DAYS = 30;
const SLICE = 500;
const MAX_SLICES = 10;

/**
 * Per cron run, at most 10 slices of 500 settled deliveries older than the retention, each slice
 * one read (on the (status, next_attempt_at) index) and one batch deleting them with their attempts.
 * Pending deliveries are never pruned: they are still being retried.
 */
export async function pruneSettledWebhookDeliveries(db: Database, now = new Date()): Promise<number> {
  const cutoff = now.getTime() - WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000;
  let pruned = 0;
  for (let slice = 0; slice < MAX_SLICES; slice++) {
    const keys = await db.all<{ endpoint_id: string; event_id: string }>(
      sql`SELECT endpoint_id, event_id FROM webhook_messages
          WHERE status IN ('delivered', 'dead') AND next_attempt_at < ${cutoff} LIMIT ${SLICE}`,
    );
    if (keys.length === 0) break;
    const json = JSON.stringify(keys.map((k) => [k.endpoint_id, k.event_id]));
    const listed = sql`(endpoint_id, event_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(${json}))`;
    await runBatch(db, [
      db.run(sql`DELETE FROM webhook_attempts WHERE ${listed}`) as unknown as BatchStatement,
      db.run(sql`DELETE FROM webhook_messages WHERE ${listed}`) as unknown as BatchStatement,
    ]);
    pruned += keys.length;
    if (keys.length < SLICE) break;
  }
  return pruned;
}
