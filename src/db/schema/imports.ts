import { sql } from "drizzle-orm";
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const IMPORT_FORMATS = ["csv", "json", "ndjson"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export const IMPORT_PRESETS = ["mailchimp", "hubspot", "customerio"] as const;
export type ImportPreset = (typeof IMPORT_PRESETS)[number];
export const COLUMN_TYPES = ["string", "number", "boolean", "date", "json", "list"] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
/** A source column's destination(s): `externalId`, `email`, `unsubscribed`, `suppressed`, a property, or null (drop). */
export type MappingTarget = string | string[] | null;
/** Suppression lists exported by other senders (docs/contacts-import-export.md lists their columns). */
export const SUPPRESSION_PRESETS = ["resend", "postmark", "sendgrid", "mailgun", "ses"] as const;
export type SuppressionPreset = (typeof SUPPRESSION_PRESETS)[number];
/** The reasons a suppression can have when it is imported or added in bulk. */
export const SUPPRESSION_REASONS = ["hard_bounce", "complaint", "unsubscribed", "manual"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

/** What a job imports: contacts (the default), or addresses onto the suppression list. */
export type ImportKind = "contacts" | "suppressions";

export type ImportOptions = {
  /** Absent: a contact import. */
  kind?: ImportKind;
  preset?: ImportPreset;
  /** Suppression imports: the sender whose export this is. */
  suppressionPreset?: SuppressionPreset;
  mapping?: Record<string, MappingTarget>;
  types?: Record<string, ColumnType>;
  dryRun?: boolean;
  /** Suppression imports: the reason of rows that carry none. */
  reason?: SuppressionReason;
  /** Suppression imports: the source of rows that carry none. */
  source?: string;
};

export const IMPORT_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;

/**
 * One contact import. The checkpoint (`checkpoint_offset` bytes into the object at `source_key`,
 * `checkpoint_row` data rows before it) only moves in the same `db.batch` as the chunk's writes.
 */
export const importJobs = sqliteTable("import_jobs", {
  // UUIDv7: listing newest first is ORDER BY id DESC on the primary key, no extra index needed.
  id: text("id").primaryKey(),
  status: text("status", { enum: IMPORT_STATUSES }).notNull(),
  format: text("format", { enum: IMPORT_FORMATS }).notNull(),
  fileName: text("file_name"),
  /** The R2 object being read: the upload, or the NDJSON rewrite of a JSON array. */
  sourceKey: text("source_key").notNull(),
  sourceBytes: integer("source_bytes").notNull(),
  /** CSV header cells, stored after the first chunk so later chunks can map their rows. */
  header: text("header", { mode: "json" }).$type<string[]>(),
  checkpointOffset: integer("checkpoint_offset").notNull().default(0),
  checkpointRow: integer("checkpoint_row").notNull().default(0),
  /** Null until the whole file has been read (or a JSON array was counted). */
  totalRows: integer("total_rows"),
  processedRows: integer("processed_rows").notNull().default(0),
  failedRows: integer("failed_rows").notNull().default(0),
  /** Times self-healing re-enqueued this job after its progress stalled; it fails the job past a cap. */
  recoveryAttempts: integer("recovery_attempts").notNull().default(0),
  /** Job-level failure message (status `failed`). */
  error: text("error"),
  /** How rows are read (mapping, preset, types) and whether this is a dry run; null: the plain format. */
  options: text("options", { mode: "json" }).$type<ImportOptions>(),
  /** Dry runs only: valid rows whose externalId is new / already a contact. */
  wouldCreate: integer("would_create").notNull().default(0),
  wouldUpdate: integer("would_update").notNull().default(0),
  /** Suppression imports: valid rows whose address was already suppressed (or repeats one earlier in the file). */
  alreadySuppressed: integer("already_suppressed").notNull().default(0),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }),
  finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** The first rows that failed validation (capped per job); `data` keeps the original cells or JSON text. */
export const importErrors = sqliteTable(
  "import_errors",
  {
    jobId: text("job_id").notNull(),
    row: integer("row").notNull(),
    error: text("error").notNull(),
    data: text("data"),
  },
  // Status and errors.csv read a job's errors in row order; a row fails at most once.
  (t) => [primaryKey({ columns: [t.jobId, t.row] })],
);

/**
 * The ledger of committed chunks. Inserting a chunk's row is the first statement of the chunk's
 * batch: a second commit of the same chunk (redelivered or concurrent message) violates the
 * primary key and rolls the whole batch back, so nothing is written or counted twice.
 */
export const importChunks = sqliteTable(
  "import_chunks",
  {
    jobId: text("job_id").notNull(),
    startOffset: integer("start_offset").notNull(),
    endOffset: integer("end_offset").notNull(),
    rows: integer("rows").notNull(),
    /** Whether the follow-up message was sent; a retried message re-sends it when it was not. */
    followUpSent: integer("follow_up_sent", { mode: "boolean" }).notNull().default(false),
    committedAt: integer("committed_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch() * 1000)`),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.startOffset] })],
);

/**
 * externalIds already counted by a running dry run, so "Duplicate externalId" holds across chunks.
 * Real runs don't write it: they find repeats by contacts.import_job_id. Rows go when the job ends.
 */
export const importSeenIds = sqliteTable(
  "import_seen_ids",
  {
    jobId: text("job_id").notNull(),
    externalId: text("external_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.externalId] })],
);

export type ImportJob = typeof importJobs.$inferSelect;
