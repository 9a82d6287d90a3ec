import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import {
  type ImportFormat,
  type ImportJob,
  type ImportKind,
  type ImportOptions,
  importErrors,
  importJobs,
  importSeenIds,
} from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { KeyedHash } from "../../lib/keyed-hash";
import { errorFields, log } from "../../lib/log";
import type { ImportChunkMessage, WebhookDeliveryMessage } from "../../lib/queues";
import { keysetPage } from "../../lib/sql";
import { type AuditDraft, auditStatements } from "../audit-log";

export type ImportDeps = {
  db: Database;
  bucket: R2Bucket;
  queue: Queue<ImportChunkMessage>;
  /** Suppression imports check erased people's hashed entries. */
  hash: KeyedHash;
  /** Queues `import.completed`/`import.failed` at once; without it the cron's sweep sends them. */
  webhookQueue?: Queue<WebhookDeliveryMessage>;
  /** IMPORT_CHUNKS_PER_INVOCATION: chunks one queue invocation commits (DEFAULT_CHUNKS_PER_INVOCATION). */
  chunksPerInvocation?: number;
};

/** Errors kept per job (the status body and errors.csv); `failedRows` counts them all. */
export const MAX_STORED_ERRORS = 1000;

export const uploadKey = (jobId: string) => `imports/${jobId}/upload`;

export type CreateImportInput = {
  format: ImportFormat;
  fileName?: string;
  /** Mapping, preset, types, dry run; `{}` or absent for a plain import. */
  options?: ImportOptions;
  /** The file: a string (JSON envelope form) or the request body stream of exactly `byteLength` bytes. */
  body: string | ReadableStream<Uint8Array>;
  byteLength: number;
  /** Written with the job row (the request's failure, if any, is recorded after: the row goes). */
  audit?: AuditDraft;
};

/**
 * Stores the upload in R2, records the job and queues its first chunk. Anything that fails leaves
 * neither a job row nor an object behind.
 */
export async function createImportJob(deps: ImportDeps, input: CreateImportInput, now = new Date()) {
  const jobId = newId();
  const key = uploadKey(jobId);
  const undo = async () => {
    await deps.db.delete(importJobs).where(eq(importJobs.id, jobId));
    await deps.bucket.delete(key);
  };
  // The row is written while the file streams (one round trip less before the answer); nothing
  // reads it before the queue message, which goes once both are there.
  const stored = await Promise.allSettled([
    putUpload(deps.bucket, key, input.body, input.byteLength),
    runBatch(deps.db, [
      ...auditStatements(deps.db, input.audit, { targetIds: [jobId] }),
      deps.db.insert(importJobs).values(pendingJob({ ...input, jobId, sourceBytes: input.byteLength }, now)),
    ]),
  ]);
  const failed = stored.find((result) => result.status === "rejected");
  if (failed) {
    await undo();
    throw failed.reason;
  }
  try {
    await deps.queue.send({ jobId, offset: 0 });
  } catch (err) {
    await undo();
    throw err;
  }
  return { jobId, status: "pending" as const };
}

export type StoredUpload = {
  jobId: string;
  format: ImportFormat;
  fileName?: string | null;
  sourceBytes: number;
  options?: ImportOptions | null;
};

/** The job row for a file already stored at `uploadKey(jobId)` (a single request or a completed multipart upload). */
export function pendingJob(upload: StoredUpload, now: Date) {
  return {
    id: upload.jobId,
    status: "pending" as const,
    format: upload.format,
    fileName: upload.fileName ?? null,
    options: upload.options && Object.keys(upload.options).length > 0 ? upload.options : null,
    sourceKey: uploadKey(upload.jobId),
    sourceBytes: upload.sourceBytes,
    createdAt: now,
    updatedAt: now,
  };
}

async function putUpload(bucket: R2Bucket, key: string, body: string | ReadableStream<Uint8Array>, byteLength: number) {
  if (typeof body === "string") {
    await bucket.put(key, body);
    return;
  }
  // R2 needs the length of a streamed body up front; the stream errors if the body disagrees.
  const { readable, writable } = new FixedLengthStream(byteLength);
  try {
    await Promise.all([body.pipeTo(writable), bucket.put(key, readable)]);
  } catch (err) {
    await bucket.delete(key);
    log.warn("upload to R2 failed", errorFields(err));
    throw new AppError("BAD_REQUEST", "The request body ended before Content-Length bytes (or R2 refused it)");
  }
}

/** What every import job shows, whatever it imports: the file, the status, the progress. */
export function jobProgressView(job: ImportJob) {
  return {
    id: job.id,
    status: job.status,
    fileName: job.fileName,
    format: job.format,
    totalRows: job.totalRows,
    processedRows: job.processedRows,
    failedRows: job.failedRows,
    bytesProcessed: job.checkpointOffset,
    bytesTotal: job.sourceBytes,
    error: job.error,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
}

const jobView = (job: ImportJob) => ({ ...jobProgressView(job), ...optionsView(job) });

function optionsView({ options, wouldCreate, wouldUpdate }: ImportJob) {
  const dryRun = options?.dryRun === true;
  return {
    dryRun,
    preset: options?.preset ?? null,
    mapping: options?.mapping ?? null,
    types: options?.types ?? null,
    wouldCreate: dryRun ? wouldCreate : null,
    wouldUpdate: dryRun ? wouldUpdate : null,
  };
}

/** Jobs of one kind: a job id of the other kind is not found (each has its own paths). */
const ofKind = (kind: ImportKind) => sql`coalesce(json_extract(${importJobs.options}, '$.kind'), 'contacts') = ${kind}`;

/** The job and its first stored errors. */
export async function loadJobWithErrors(db: Database, jobId: string, kind: ImportKind) {
  const [job] = await db
    .select()
    .from(importJobs)
    .where(and(eq(importJobs.id, jobId), ofKind(kind)));
  if (!job) throw notFound("Import job");
  const errors = await db
    .select({ row: importErrors.row, error: importErrors.error })
    .from(importErrors)
    .where(eq(importErrors.jobId, jobId))
    .orderBy(asc(importErrors.row))
    .limit(MAX_STORED_ERRORS);
  return { job, errors };
}

export async function getImportJob(db: Database, jobId: string) {
  const { job, errors } = await loadJobWithErrors(db, jobId, "contacts");
  return { ...jobView(job), errors, errorCount: job.failedRows };
}

export async function listImportJobs(
  db: Database,
  query: { limit: number; cursor?: string },
  kind: ImportKind = "contacts",
) {
  const rows = await listJobRows(db, query, kind);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { imports: page.map(jobView), nextCursor };
}

/** Newest first, `limit + 1` rows (for keysetPage). */
export const listJobRows = (db: Database, query: { limit: number; cursor?: string }, kind: ImportKind) =>
  db
    .select()
    .from(importJobs)
    .where(and(ofKind(kind), query.cursor ? lt(importJobs.id, query.cursor) : undefined))
    .orderBy(desc(importJobs.id))
    .limit(query.limit + 1);

/**
 * Stops a pending or processing job now: a chunk still in flight can no longer commit (its batch
 * requires the job to be processing), so rows already written stay and nothing more is written.
 */
/** The cancel commits with its audit entry; the seen ids go after (bounded slices, no change anyone reads). */
export async function cancelJob(db: Database, jobId: string, kind: ImportKind, audit?: AuditDraft, now = new Date()) {
  const cancel = db
    .update(importJobs)
    .set({ status: "cancelled", finishedAt: now, updatedAt: now })
    .where(and(eq(importJobs.id, jobId), ofKind(kind), inArray(importJobs.status, ["pending", "processing"])))
    .returning({ id: importJobs.id });
  const [cancelled] = (await runBatch(db, [...auditStatements(db, audit), cancel])).at(-1) as Array<{ id: string }>;
  if (!cancelled) {
    const [job] = await db
      .select({ status: importJobs.status })
      .from(importJobs)
      .where(and(eq(importJobs.id, jobId), ofKind(kind)));
    if (!job) throw notFound("Import job");
    throw new AppError("CONFLICT", `Import job is already ${job.status}`);
  }
  await forgetSeenIds(db, jobId);
}

export async function cancelImportJob(db: Database, jobId: string, audit?: AuditDraft) {
  await cancelJob(db, jobId, "contacts", audit);
  return getImportJob(db, jobId);
}

const SEEN_IDS_DELETE_SLICE = 50_000;

/**
 * The duplicate-detection ids only matter while a job runs. Deleted in bounded slices: a million
 * rows in one statement could run into D1's 30-second statement limit.
 */
export async function forgetSeenIds(db: Database, jobId: string) {
  for (;;) {
    const result = await db.run(
      sql`DELETE FROM ${importSeenIds} WHERE rowid IN (SELECT rowid FROM ${importSeenIds} WHERE ${importSeenIds.jobId} = ${jobId} LIMIT ${SEEN_IDS_DELETE_SLICE})`,
    );
    if ((result.meta.changes ?? 0) < SEEN_IDS_DELETE_SLICE) return;
  }
}
