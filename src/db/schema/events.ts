import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Properties } from "./contacts";

/**
 * What an event does to its contact's properties when that is not a merge of its own properties
 * (PostHog's person model): `set` is merged (a null removes the key: `$unset`), `setOnce` only
 * fills keys the contact doesn't have.
 */
export type ContactUpdate = { set: Properties; setOnce: Properties };

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    event: text("event").notNull(),
    userId: text("user_id").notNull(),
    userEmail: text("user_email"),
    properties: text("properties", { mode: "json" }).$type<Properties>().notNull().default(sql`'{}'`),
    idempotencyKey: text("idempotency_key"),
    source: text("source", { enum: ["api", "batch", "posthog"] }).notNull(),
    occurredAt: integer("occurred_at", { mode: "timestamp_ms" }).notNull(),
    receivedAt: integer("received_at", { mode: "timestamp_ms" }).notNull(),
    // Set once the pipeline (contact upsert, exits, journey routing) has finished for this event;
    // a NULL here long after receivedAt means a crash between storing and routing.
    processedAt: integer("processed_at", { mode: "timestamp_ms" }),
    // Self-healing runs that tried this event; after a few it is dead-lettered, not retried forever.
    healAttempts: integer("heal_attempts").notNull().default(0),
    replayCount: integer("replay_count").notNull().default(0),
    lastReplayedAt: integer("last_replayed_at", { mode: "timestamp_ms" }),
    // A visitor the source hasn't identified (PostHog): stored, but it makes no contact and enters
    // no journey.
    anonymous: integer("anonymous", { mode: "boolean" }).notNull().default(false),
    // NULL: the contact merges the event's properties (the ingest API).
    contactUpdate: text("contact_update", { mode: "json" }).$type<ContactUpdate>(),
  },
  (t) => [
    // The exact dedup guard: KV is only the fast path, this index decides under concurrency.
    uniqueIndex("events_idempotency_key_unique").on(t.idempotencyKey),
    // Replay-by-filter and the admin list filter on name and user over a time range.
    index("events_event_occurred_idx").on(t.event, t.occurredAt),
    index("events_user_occurred_idx").on(t.userId, t.occurredAt),
    // Self-healing scans for events stored but never processed.
    // Retention archives the oldest occurrences first, across every event name.
    index("events_occurred_idx").on(t.occurredAt, t.id),
    index("events_unprocessed_idx").on(t.receivedAt).where(sql`processed_at IS NULL`),
  ],
);

export type StoredEvent = typeof events.$inferSelect;
