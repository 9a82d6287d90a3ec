import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Webhook deliveries already applied, by the sender's message id (`svix-id` / `webhook-id`). A
 * signed delivery can be replayed while its signature is fresh (5 minutes): the id is recorded in
 * the same batch as the delivery's effect, and the effect runs only when this request's `claim`
 * made the row, so a replay changes nothing. Rows older than the signature window are pruned.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    source: text("source", { enum: ["resend"] }).notNull(),
    messageId: text("message_id").notNull(),
    /** A random id per request: which request's insert won. */
    claim: text("claim").notNull(),
    receivedAt: integer("received_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.messageId] }),
    // The cron's prune of ids whose signatures have expired.
    index("webhook_deliveries_received_idx").on(t.receivedAt),
  ],
);
