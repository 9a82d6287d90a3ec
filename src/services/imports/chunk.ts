import { and, eq, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { type ImportJob, importChunks, importErrors, importJobs } from "../../db/schema";
import type { ImportChunkMessage } from "../../lib/queues";
import { type ChunkRead, readChunk } from "./chunk-reader";
import { type InvalidRow, jsonParamChunks, partitionRows, type ValidRow } from "./duplicates";
import { failJob, loadJob, markProcessing, resendLostFollowUp, sendFollowUp } from "./job-state";
import { type ImportDeps, MAX_STORED_ERRORS, uploadKey } from "./jobs";
import { convertJsonArray } from "./json-array";
import { UnreadableFileError } from "./readers";
import { importUpsertStatements } from "./upsert";

export { failJob, failJobAfterRetries } from "./job-state";

/**
 * Rows per chunk. Upserts carry ~1,500 rows per statement (a 256 KB JSON parameter), so a chunk is
 * a dozen statements in one batch, far inside the 1000-queries-per-invocation limit; the bound is
 * the isolate's memory and CPU for parsing, which stay small at this size.
 */
export const DEFAULT_CHUNK_ROWS = 20_000;

export type ChunkOutcome = "continued" | "completed" | "failed" | "stale" | "ended" | "missing";

type ChunkOptions = { chunkRows?: number; now?: Date };

/**
 * Processes the chunk of an import that starts at the job's checkpoint: reads a bounded number of
 * rows from R2 (from the saved byte offset), validates them, and commits the contact upserts, the
 * errors and the moved checkpoint in one batch. A message whose offset is not the job's checkpoint
 * is a duplicate of a chunk already committed and changes nothing.
 */
export async function processImportChunk(
  deps: ImportDeps,
  message: ImportChunkMessage,
  { chunkRows = DEFAULT_CHUNK_ROWS, now = new Date() }: ChunkOptions = {},
): Promise<ChunkOutcome> {
  const claimed = await claimCheckpoint(deps, message, now);
  if (typeof claimed === "string") return claimed;
  const job = claimed;

  let read: ChunkRead;
  const t0 = Date.now();
  try {
    read = await readChunk(deps.bucket, job, chunkRows);
  } catch (err) {
    if (err instanceof UnreadableFileError) return failJob(deps.db, job, err.message, now);
    throw err;
  }
  const t1 = Date.now();
  const { valid, invalid } = await partitionRows(deps.db, job, read.rows);
  const t2 = Date.now();
  const committed = await commitChunk(deps.db, job, { read, valid, invalid }, now);
  (globalThis as any).console.log("TIMING", { read: t1 - t0, partition: t2 - t1, commit: Date.now() - t2 });
  if (!committed) return "stale";

  if (read.eof) return "completed";
  await sendFollowUp(deps, job.id, job.checkpointOffset, read.end);
  return "continued";
}

/**
 * The job, ready to read at this message's checkpoint (a pending job starts processing, a JSON
 * array is rewritten as NDJSON first), or why this message has nothing to do.
 */
async function claimCheckpoint(
  deps: ImportDeps,
  message: ImportChunkMessage,
  now: Date,
): Promise<ImportJob | ChunkOutcome> {
  let job = await loadJob(deps.db, message.jobId);
  if (!job) return "missing";
  if (job.status === "pending") job = await markProcessing(deps.db, job.id, now);
  if (job?.status !== "processing") return "ended";
  if (message.offset !== job.checkpointOffset) {
    await resendLostFollowUp(deps, job, message.offset);
    return "stale";
  }
  if (job.format !== "json" || job.sourceKey !== uploadKey(job.id)) return job;
  const converted = await convertJsonArray(deps, job, now);
  if (!converted) return "stale";
  if ("error" in converted) return failJob(deps.db, job, converted.error, now);
  return converted.job;
}

type ChunkResult = { read: ChunkRead; valid: ValidRow[]; invalid: InvalidRow[] };

/**
 * Commits the chunk in one batch: ledger row, moved checkpoint and counters, errors and
 * contact upserts. False when another delivery committed this checkpoint first (or the job ended).
 */
async function commitChunk(db: Database, job: ImportJob, chunk: ChunkResult, now: Date): Promise<boolean> {
  try {
    await runBatch(db, [
      ledgerStatement(db, job, chunk.read, now),
      checkpointStatement(db, job, chunk, now),
      ...errorStatements(db, job, chunk.invalid),
      ...importUpsertStatements(db, job.id, chunk.valid, now),
    ]);
    return true;
  } catch (err) {
    const current = await loadJob(db, job.id);
    if (!current || current.checkpointOffset !== job.checkpointOffset || current.status !== "processing") return false;
    throw err;
  }
}

/**
 * The batch's first statement. The ledger row's start offset is read back from the job, so it is
 * NULL (and the batch fails on NOT NULL) unless the job is still processing at this checkpoint; a
 * second commit of the same chunk fails on the primary key. Either way nothing after it is written.
 */
function ledgerStatement(db: Database, job: ImportJob, read: ChunkRead, now: Date) {
  return db.insert(importChunks).values({
    jobId: job.id,
    startOffset: sql`(SELECT ${importJobs.checkpointOffset} FROM ${importJobs} WHERE ${importJobs.id} = ${job.id} AND ${importJobs.checkpointOffset} = ${job.checkpointOffset} AND ${importJobs.status} = 'processing')`,
    endOffset: read.end,
    rows: read.rows.length,
    committedAt: now,
  });
}

function checkpointStatement(db: Database, job: ImportJob, { read, valid, invalid }: ChunkResult, now: Date) {
  const rowsRead = job.checkpointRow + read.rows.length;
  return db
    .update(importJobs)
    .set({
      status: read.eof ? "completed" : "processing",
      header: read.header,
      checkpointOffset: read.end,
      checkpointRow: rowsRead,
      processedRows: job.processedRows + valid.length,
      failedRows: job.failedRows + invalid.length,
      totalRows: read.eof ? rowsRead : job.totalRows,
      finishedAt: read.eof ? now : null,
      recoveryAttempts: 0, // progress: self-healing starts counting again
      updatedAt: now,
    })
    .where(
      and(
        eq(importJobs.id, job.id),
        eq(importJobs.checkpointOffset, job.checkpointOffset),
        eq(importJobs.status, "processing"),
      ),
    );
}

/** The failed rows, up to the per-job cap of stored errors. */
function errorStatements(db: Database, job: ImportJob, invalid: InvalidRow[]) {
  const kept = invalid.slice(0, Math.max(0, MAX_STORED_ERRORS - job.failedRows));
  return jsonParamChunks(kept.map(({ row, error, data }) => ({ row, error, data }))).map((errors) =>
    db
      .insert(importErrors)
      .select(
        sql`SELECT ${job.id}, json_extract(value, '$.row'), json_extract(value, '$.error'), json_extract(value, '$.data') FROM json_each(${errors})`,
      ),
  );
}
