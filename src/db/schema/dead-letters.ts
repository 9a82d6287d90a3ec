import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Queue messages that exhausted their retries, kept for an admin to see what died and why. */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    id: text("id").primaryKey(),
    queue: text("queue").notNull(),
    messageId: text("message_id").notNull(),
    body: text("body", { mode: "json" }).$type<unknown>().notNull().default(sql`'null'`),
    attempts: integer("attempts").notNull(),
    /** What the message was about: an import job, enrollments, an email. */
    subject: text("subject"),
    error: text("error").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    /** When an admin retried it (POST /v1/admin/dead-letters/{id}/retry); null until then. */
    retriedAt: integer("retried_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    // A redelivered dead letter is recorded once.
    uniqueIndex("dead_letters_message_unique").on(t.queue, t.messageId),
    // The admin list filters by queue, newest first.
    index("dead_letters_queue_idx").on(t.queue, t.id),
  ],
);

export type DeadLetter = typeof deadLetters.$inferSelect;
