import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { IMPORT_FORMATS, type ImportOptions } from "./imports";

export const IMPORT_UPLOAD_STATUSES = ["open", "completing", "completed", "aborted", "expired"] as const;
export type ImportUploadStatus = (typeof IMPORT_UPLOAD_STATUSES)[number];

/**
 * A file sent in parts (an R2 multipart upload). Its id becomes the import job's id when it is
 * completed, so the object sits where a single-request upload would (`imports/{jobId}/upload`).
 */
export const importUploads = sqliteTable(
  "import_uploads",
  {
    id: text("id").primaryKey(),
    status: text("status", { enum: IMPORT_UPLOAD_STATUSES }).notNull(),
    format: text("format", { enum: IMPORT_FORMATS }).notNull(),
    fileName: text("file_name"),
    /** The import options (mapping, preset, types, dryRun) the job gets on completion. */
    options: text("options", { mode: "json" }).$type<ImportOptions>(),
    r2Key: text("r2_key").notNull(),
    r2UploadId: text("r2_upload_id").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The cron looks for unfinished uploads past their time to live.
  (t) => [index("import_uploads_status_created_idx").on(t.status, t.createdAt)],
);

export type ImportUpload = typeof importUploads.$inferSelect;
