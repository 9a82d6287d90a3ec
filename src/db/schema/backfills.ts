import { sql } from "drizzle-orm";
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const BACKFILL_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/** Which contacts a backfill walks (see services/segments.ts for how each field becomes SQL). */
export type SegmentFilter = {
  where?: Array<{ property: string; op: string; value?: unknown }>;
  search?: string;
  createdFrom?: string;
  createdTo?: string;
  importJobId?: string;
};

/**
 * One backfill of a journey from a segment of contacts. `cursor` is the last contact id walked
 * (keyset order); it only moves in the same `db.batch` as the page's enrollments and tallies.
 */
export const backfillJobs = sqliteTable("backfill_jobs", {
  // UUIDv7: newest first is ORDER BY id DESC on the primary key.
  id: text("id").primaryKey(),
  journeyKey: text("journey_key").notNull(),
  status: text("status", { enum: BACKFILL_STATUSES }).notNull(),
  dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
  filter: text("filter", { mode: "json" }).$type<SegmentFilter>().notNull(),
  /** At most this many matching contacts, or all of them when null. */
  maxContacts: integer("max_contacts"),
  pageSize: integer("page_size").notNull(),
  cursor: text("cursor").notNull().default(""),
  pages: integer("pages").notNull().default(0),
  matched: integer("matched").notNull().default(0),
  /** Times self-healing re-enqueued this job after its progress stalled. */
  recoveryAttempts: integer("recovery_attempts").notNull().default(0),
  error: text("error"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * The ledger of committed pages. A page's row is the first statement of its batch and reads its
 * start cursor back from the job: a stale or repeated commit fails (NOT NULL or primary key) and
 * rolls back the page's enrollments and tallies with it.
 */
export const backfillPages = sqliteTable(
  "backfill_pages",
  {
    jobId: text("job_id").notNull(),
    startCursor: text("start_cursor").notNull(),
    endCursor: text("end_cursor").notNull(),
    matched: integer("matched").notNull(),
    /** Whether the page's workflow starts and follow-up message were sent; a retry re-sends them. */
    followUpSent: integer("follow_up_sent", { mode: "boolean" }).notNull().default(false),
    committedAt: integer("committed_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch() * 1000)`),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.startCursor] })],
);

/** Outcomes per job: `enrolled` or a skip reason, counted in SQL inside each page's batch. */
export const backfillTallies = sqliteTable(
  "backfill_tallies",
  {
    jobId: text("job_id").notNull(),
    outcome: text("outcome").notNull(),
    n: integer("n").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.outcome] })],
);

export type BackfillJob = typeof backfillJobs.$inferSelect;
