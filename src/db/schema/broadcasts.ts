import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Properties } from "./contacts";

/** A rendered sample of a dry run: what one real recipient would get. */
export type BroadcastSample = { contactId: string; to: string; subject: string; text: string; html: string };

/**
 * One email to a segment of contacts. Its walk is a backfill job with the same id (backfill_jobs:
 * status, cursor, page ledger, self-healing) whose journey_key is empty; this row holds what is
 * sent. Every recipient's email row carries broadcast_id and contact_id (unique together).
 */
export const broadcasts = sqliteTable(
  "broadcasts",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    templateKey: text("template_key").notNull(),
    data: text("data", { mode: "json" }).$type<Properties>().notNull(),
    topicKey: text("topic_key"),
    /** The walk (and the first send) does not start before this time. */
    sendAt: integer("send_at", { mode: "timestamp_ms" }),
    /** Emails handed to the email-send queue per minute at most (null: as fast as pages commit). */
    ratePerMinute: integer("rate_per_minute"),
    /** The request's Idempotency-Key: a repeat answers this broadcast and starts nothing. */
    idempotencyKey: text("idempotency_key"),
    /** A dry run's three sample renders for real recipients. */
    samples: text("samples", { mode: "json" }).$type<BroadcastSample[]>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The Idempotency-Key is decided by D1, so two concurrent requests can't both start a broadcast.
  (t) => [uniqueIndex("broadcasts_idempotency_key_unique").on(t.idempotencyKey)],
);

export type Broadcast = typeof broadcasts.$inferSelect;
