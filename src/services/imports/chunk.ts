import { and, eq, inArray, sql } from "drizzle-orm";
import { runBatch, type Database } from "../../db/client";
import { importChunks, importErrors, importJobs, importSeenIds, type ImportJob } from "../../db/schema";
import { contactUpsertStatements } from "../contacts";
import type { ImportChunkMessage } from "../../lib/queues";
import { forgetSeenIds, MAX_STORED_ERRORS, uploadKey, type ImportDeps } from "./jobs";
import { convertJsonArray } from "./json-array";
import { readCsvRecords, readNdjsonLines, UnreadableFileError } from "./readers";
import { csvLayout, csvRow, jsonRow, type ImportRow } from "./rows";

/**
 * Rows per invocation. At 11 contacts per upsert statement (9 bound columns, 100-parameter cap)
 * 4000 rows are ~370 statements in one batch: inside the 1000-queries-per-invocation limit with room.
 */
export const DEFAULT_CHUNK_ROWS = 4000;
/** Bytes per invocation, so a file of very wide rows is still read in bounded pieces. */
const CHUNK_MAX_BYTES = 8 * 1024 * 1024;
/** Ids and errors travel to D1 as one JSON-array parameter per statement (json_each), kept this small. */
const JSON_PARAM_MAX_BYTES = 256 * 1024;

export type ChunkOutcome = "continued" | "completed" | "failed" | "stale" | "ended" | "missing";

type ValidRow = ImportRow & { contact: NonNullable<Extract<ImportRow, { contact: unknown }>["contact"]> };
type InvalidRow = ImportRow & { error: string };

/**
 * Processes the chunk of an import that starts at the job's checkpoint: reads a bounded number of
 * rows from R2 (from the saved byte offset), validates them, and commits the contact upserts, the
 * errors and the moved checkpoint in one batch. A message whose offset is not the job's checkpoint
 * is a duplicate of a chunk already committed and changes nothing.
 */
export async function processImportChunk(
  deps: ImportDeps,
  message: ImportChunkMessage,
  { chunkRows = DEFAULT_CHUNK_ROWS, now = new Date() }: { chunkRows?: number; now?: Date } = {},
): Promise<ChunkOutcome> {
  const { db } = deps;
  let job = await loadJob(db, message.jobId);
  if (!job) return "missing";
  if (job.status === "pending") job = await markProcessing(db, job.id, now);
  if (!job || job.status !== "processing") return "ended";
  if (message.offset !== job.checkpointOffset) {
    await resendLostFollowUp(deps, job, message.offset);
    return "stale";
  }

  if (job.format === "json" && job.sourceKey === uploadKey(job.id)) {
    const converted = await convertJsonArray(deps, job, now);
    if (!converted) return "stale";
    if ("error" in converted) return failJob(db, job, converted.error, now);
    job = converted.job;
  }

  const start = job.checkpointOffset;
  let read: { rows: ImportRow[]; header: string[] | null; end: number; eof: boolean };
  try {
    read = await readChunk(deps.bucket, job, chunkRows);
  } catch (err) {
    if (err instanceof UnreadableFileError) return failJob(db, job, err.message, now);
    throw err;
  }

  const { valid, invalid } = await sortRows(db, job, read.rows);
  const rowsRead = job.checkpointRow + read.rows.length;
  const statements = [
    // First: the ledger row. Its start offset is read back from the job, so it is NULL (and the
    // batch fails on NOT NULL) unless the job is still processing at this checkpoint; a second
    // commit of the same chunk fails on the primary key. Either way nothing below is written.
    db.insert(importChunks).values({
      jobId: job.id,
      startOffset: sql`(SELECT ${importJobs.checkpointOffset} FROM ${importJobs} WHERE ${importJobs.id} = ${job.id} AND ${importJobs.checkpointOffset} = ${start} AND ${importJobs.status} = 'processing')`,
      endOffset: read.end,
      rows: read.rows.length,
      committedAt: now,
    }),
    db
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
      .where(and(eq(importJobs.id, job.id), eq(importJobs.checkpointOffset, start), eq(importJobs.status, "processing"))),
    // One JSON-array parameter per statement instead of two per row: a chunk's ids in a statement or two.
    ...jsonParamChunks(valid.map((r) => r.contact.externalId)).map((ids) =>
      db
        .insert(importSeenIds)
        // `WHERE true`: SQLite can't tell ON CONFLICT from a join constraint after a bare INSERT … SELECT.
        .select(sql`SELECT ${job.id}, value FROM json_each(${ids}) WHERE true`)
        .onConflictDoNothing(),
    ),
    ...jsonParamChunks(
      invalid.slice(0, Math.max(0, MAX_STORED_ERRORS - job.failedRows)).map(({ row, error, data }) => ({ row, error, data })),
    ).map((errors) =>
      db
        .insert(importErrors)
        .select(
          sql`SELECT ${job.id}, json_extract(value, '$.row'), json_extract(value, '$.error'), json_extract(value, '$.data') FROM json_each(${errors})`,
        ),
    ),
    ...contactUpsertStatements(db, valid.map((r) => r.contact), { now }),
  ];

  try {
    await runBatch(db, statements);
  } catch (err) {
    const current = await loadJob(db, job.id);
    if (!current || current.checkpointOffset !== start || current.status !== "processing") return "stale";
    throw err;
  }

  if (read.eof) {
    await forgetSeenIds(db, job.id);
    return "completed";
  }
  await sendFollowUp(deps, job.id, start, read.end);
  return "continued";
}

async function readChunk(bucket: R2Bucket, job: ImportJob, chunkRows: number) {
  const start = job.checkpointOffset;
  if (start >= job.sourceBytes) return { rows: [], header: job.header, end: start, eof: true };
  const object = await bucket.get(job.sourceKey, start > 0 ? { range: { offset: start } } : undefined);
  if (!object) throw new UnreadableFileError("The uploaded file is missing from storage");
  const atFileStart = start === 0;
  const limits = { maxRecords: chunkRows + (job.format === "csv" && atFileStart ? 1 : 0), maxBytes: CHUNK_MAX_BYTES };

  const result = await (job.format === "csv"
    ? readCsvRecords(object.body, limits, { atFileStart })
    : readNdjsonLines(object.body, limits)
  ).catch((err: unknown) => {
    // The parser counts lines from this chunk's start: say where the chunk starts in the file.
    if (err instanceof UnreadableFileError) throw new UnreadableFileError(`${err.message} (reading on from data row ${job.checkpointRow + 1})`);
    throw err;
  });
  const end = result.eof ? job.sourceBytes : start + (result.records.at(-1)?.end ?? 0);
  const firstRow = job.checkpointRow + 1;

  if (job.format !== "csv") {
    const rows = (result.records as Array<{ value: string }>).map((r, i) => jsonRow(r.value, firstRow + i));
    return { rows, header: null, end, eof: result.eof };
  }
  const records = (result.records as Array<{ value: string[] }>).map((r) => r.value);
  const header = atFileStart ? records.shift() : job.header;
  if (!header) throw new UnreadableFileError("The file is empty: a CSV import needs a header row");
  const layout = csvLayout(header);
  if ("error" in layout) throw new UnreadableFileError(layout.error);
  return { rows: records.map((cells, i) => csvRow(layout, cells, firstRow + i)), header, end, eof: result.eof };
}

/** Valid rows to upsert, and failed rows (validation, or an externalId seen earlier in the file). */
async function sortRows(db: Database, job: ImportJob, rows: ImportRow[]) {
  const valid: ValidRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstInChunk = new Map<string, ValidRow>();
  for (const row of rows) {
    if ("error" in row) invalid.push(row);
    else if (firstInChunk.has(row.contact.externalId)) invalid.push({ ...row, error: "Duplicate externalId" });
    else firstInChunk.set(row.contact.externalId, row);
  }
  const seen = job.checkpointRow === 0 ? new Set<string>() : await seenEarlier(db, job.id, [...firstInChunk.keys()]);
  for (const [externalId, row] of firstInChunk) {
    if (seen.has(externalId)) invalid.push({ row: row.row, data: row.data, error: "Duplicate externalId" });
    else valid.push(row);
  }
  invalid.sort((a, b) => a.row - b.row);
  return { valid, invalid };
}

async function seenEarlier(db: Database, jobId: string, externalIds: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const ids of jsonParamChunks(externalIds)) {
    const rows = await db.all<{ id: string }>(
      sql`SELECT value AS id FROM json_each(${ids}) AS j
          WHERE EXISTS (SELECT 1 FROM import_seen_ids s WHERE s.job_id = ${jobId} AND s.external_id = j.value)`,
    );
    for (const { id } of rows) seen.add(id);
  }
  return seen;
}

/** JSON arrays of the items, each small enough to bind as one statement parameter. */
function jsonParamChunks(items: unknown[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > JSON_PARAM_MAX_BYTES) {
      out.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) out.push(`[${current.join(",")}]`);
  return out;
}

async function loadJob(db: Database, jobId: string) {
  const [job] = await db.select().from(importJobs).where(eq(importJobs.id, jobId));
  return job;
}

async function markProcessing(db: Database, jobId: string, now: Date) {
  await db
    .update(importJobs)
    .set({ status: "processing", startedAt: now, updatedAt: now })
    .where(and(eq(importJobs.id, jobId), eq(importJobs.status, "pending")));
  return loadJob(db, jobId);
}

/** A job-level failure (unreadable file, bad header, malformed JSON): the job stops with the message. */
export async function failJob(db: Database, job: ImportJob, error: string, now = new Date()): Promise<"failed"> {
  await db
    .update(importJobs)
    .set({ status: "failed", error, finishedAt: now, updatedAt: now })
    .where(and(eq(importJobs.id, job.id), inArray(importJobs.status, ["pending", "processing"])));
  await forgetSeenIds(db, job.id);
  return "failed";
}

/** The last delivery of a chunk failed too: the job stops where it is, with the chunk's error. */
export async function failJobAfterRetries(db: Database, jobId: string, attempts: number, error: unknown) {
  const job = await loadJob(db, jobId);
  if (!job) return;
  await failJob(db, job, `Import stopped after ${attempts} failed attempts at data row ${job.checkpointRow}: ${String(error)}`);
}

async function sendFollowUp(deps: ImportDeps, jobId: string, start: number, next: number) {
  await deps.queue.send({ jobId, offset: next });
  await deps.db
    .update(importChunks)
    .set({ followUpSent: true })
    .where(and(eq(importChunks.jobId, jobId), eq(importChunks.startOffset, start)));
}

/**
 * A retried message for the chunk just committed, whose follow-up was never sent (the invocation
 * died between commit and send): send it now, or the job would stall at this checkpoint.
 */
async function resendLostFollowUp(deps: ImportDeps, job: ImportJob, offset: number) {
  const [chunk] = await deps.db
    .select()
    .from(importChunks)
    .where(and(eq(importChunks.jobId, job.id), eq(importChunks.startOffset, offset)));
  if (chunk && !chunk.followUpSent && chunk.endOffset === job.checkpointOffset) {
    await sendFollowUp(deps, job.id, offset, chunk.endOffset);
  }
}
