import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const ARCHIVE_ERASURE_STATES = ["scrub_pending", "scrubbed", "nothing_archived"] as const;
export type ArchiveErasureState = (typeof ARCHIVE_ERASURE_STATES)[number];

/**
 * An erasure as a fact every writer checks: work accepted before `erasedAt` (a buffered event, a
 * retried or dead-lettered message) must not bring the person back. Keyed by the keyed hash of the
 * user id (lib/keyed-hash), so the marker names nobody; a repeated erasure moves `erasedAt` on.
 * Work accepted after it is a person coming back, and is written as usual.
 */
export const erasureMarkers = sqliteTable("erasure_markers", {
  /** `hmac:<hex>` of the external user id. */
  id: text("id").primaryKey(),
  erasedAt: integer("erased_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * Erased people whose lines the R2 event archive may still hold. `userId` is kept in clear only
 * while the scrub is pending (it must recognise the lines); when a full pass over the archive that
 * saw the request completes, it is set to NULL and only `id` (a keyed hash of the user id) remains,
 * so a repeated DELETE can still answer with the state. No address is kept here.
 */
export const archiveErasures = sqliteTable(
  "archive_erasures",
  {
    /** `hmac:<hex>` of the external user id (`sha256:<hex>` for erasures before migration 0012). */
    id: text("id").primaryKey(),
    userId: text("user_id"),
    state: text("state", { enum: ARCHIVE_ERASURE_STATES }).notNull(),
    requestedAt: integer("requested_at", { mode: "timestamp_ms" }).notNull(),
    /**
     * Assigned in the writing statement, one more than any before (D1 runs writes one at a time),
     * so "requested before the pass started" never depends on two clocks.
     */
    requestedSeq: integer("requested_seq").notNull(),
    doneAt: integer("done_at", { mode: "timestamp_ms" }),
  },
  // The scrub and the archive readers load the pending ones.
  (t) => [index("archive_erasures_pending_idx").on(t.userId).where(sql`state = 'scrub_pending'`)],
);

/**
 * The scrub's one row (id 1): the pass in progress. `coversSeq` null = no pass running; else the
 * pass covers every erasure up to that `requestedSeq`, and `afterKey` is the last archive key done.
 */
export const archiveScrub = sqliteTable("archive_scrub", {
  id: integer("id").primaryKey(),
  coversSeq: integer("covers_seq"),
  passStartedAt: integer("pass_started_at", { mode: "timestamp_ms" }),
  afterKey: text("after_key"),
});

export type ArchiveErasure = typeof archiveErasures.$inferSelect;
