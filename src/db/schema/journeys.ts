import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Admin overrides of a journey's `enabled` flag; journeys themselves are code. */
export const journeySettings = sqliteTable("journey_settings", {
  journeyKey: text("journey_key").primaryKey(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export const ENROLLMENT_STATUSES = ["active", "waiting", "completed", "exited", "failed"] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

export const enrollments = sqliteTable(
  "enrollments",
  {
    // Also the workflow instance id.
    id: text("id").primaryKey(),
    journeyKey: text("journey_key").notNull(),
    userId: text("user_id").notNull(),
    status: text("status", { enum: ENROLLMENT_STATUSES }).notNull(),
    triggerEventId: text("trigger_event_id"),
    source: text("source", { enum: ["event", "batch"] }).notNull(),
    /** The event name a waiting enrollment is waiting for; events of that name are forwarded to it. */
    waitingFor: text("waiting_for"),
    error: text("error"),
    exitReason: text("exit_reason"),
    exitEventId: text("exit_event_id"),
    enrolledAt: integer("enrolled_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    // At most one running enrollment per user and journey, whatever races: the last line of the entry guard.
    uniqueIndex("enrollments_one_running_unique")
      .on(t.journeyKey, t.userId)
      .where(sql`status IN ('active', 'waiting')`),
    // Entry-limit checks (once, once per period) look up a user's history in a journey.
    index("enrollments_journey_user_enrolled_idx").on(t.journeyKey, t.userId, t.enrolledAt),
    // Exits and event forwarding find a user's running enrollments.
    index("enrollments_user_status_idx").on(t.userId, t.status),
    // Admin lists and counts per journey and status.
    index("enrollments_journey_status_idx").on(t.journeyKey, t.status, t.id),
  ],
);

export type Enrollment = typeof enrollments.$inferSelect;
