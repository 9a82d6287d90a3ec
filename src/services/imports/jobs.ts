import { and, asc, desc, eq, inArray, lt } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type ImportFormat, type ImportJob, importErrors, importJobs } from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { errorFields, log } from "../../lib/log";
import type { ImportChunkMessage } from "../../lib/queues";
import { keysetPage } from "../../lib/sql";

export type ImportDeps = {
  db: Database;
  bucket: R2Bucket;
  queue: Queue<ImportChunkMessage>;
};

/** Errors kept per job (the status body and errors.csv); `failedRows` counts them all. */
export const MAX_STORED_ERRORS = 1000;

export const uploadKey = (jobId: string) => `imports/${jobId}/upload`;

export type CreateImportInput = {
  format: ImportFormat;
  fileName?: string;
  /** The file: a string (JSON envelope form) or the request body stream of exactly `byteLength` bytes. */
  body: string | ReadableStream<Uint8Array>;
  byteLength: number;
};

/**
 * Stores the upload in R2, records the job and queues its first chunk. Anything that fails leaves
 * neither a job row nor an object behind.
 */
export async function createImportJob(deps: ImportDeps, input: CreateImportInput, now = new Date()) {
  const jobId = newId();
  const key = uploadKey(jobId);
  await putUpload(deps.bucket, key, input.body, input.byteLength);
  try {
    await deps.db.insert(importJobs).values({
      id: jobId,
      status: "pending",
      format: input.format,
      fileName: input.fileName ?? null,
      sourceKey: key,
      sourceBytes: input.byteLength,
      createdAt: now,
      updatedAt: now,
    });
    await deps.queue.send({ jobId, offset: 0 });
  } catch (err) {
    await deps.db.delete(importJobs).where(eq(importJobs.id, jobId));
    await deps.bucket.delete(key);
    throw err;
  }
  return { jobId, status: "pending" as const };
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

function jobView(job: ImportJob) {
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

export async function getImportJob(db: Database, jobId: string) {
  const [job] = await db.select().from(importJobs).where(eq(importJobs.id, jobId));
  if (!job) throw notFound("Import job");
  const errors = await db
    .select({ row: importErrors.row, error: importErrors.error })
    .from(importErrors)
    .where(eq(importErrors.jobId, jobId))
    .orderBy(asc(importErrors.row))
    .limit(MAX_STORED_ERRORS);
  return { ...jobView(job), errors, errorCount: job.failedRows };
}

export async function listImportJobs(db: Database, query: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(importJobs)
    .where(query.cursor ? lt(importJobs.id, query.cursor) : undefined)
    .orderBy(desc(importJobs.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { imports: page.map(jobView), nextCursor };
}

/**
 * Stops a pending or processing job now: a chunk still in flight can no longer commit (its batch
 * requires the job to be processing), so rows already written stay and nothing more is written.
 */
export async function cancelImportJob(db: Database, jobId: string, now = new Date()) {
  const [cancelled] = await db
    .update(importJobs)
    .set({ status: "cancelled", finishedAt: now, updatedAt: now })
    .where(and(eq(importJobs.id, jobId), inArray(importJobs.status, ["pending", "processing"])))
    .returning({ id: importJobs.id });
  if (!cancelled) {
    const [job] = await db.select({ status: importJobs.status }).from(importJobs).where(eq(importJobs.id, jobId));
    if (!job) throw notFound("Import job");
    throw new AppError("CONFLICT", `Import job is already ${job.status}`);
  }
  return getImportJob(db, jobId);
}
