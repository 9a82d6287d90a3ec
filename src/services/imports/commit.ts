import { and, eq, sql } from "drizzle-orm";
import { type BatchStatement, type Database, runBatch } from "../../db/client";
import { type ImportJob, importChunks, importErrors, importJobs } from "../../db/schema";
import type { WebhookDeliveryMessage } from "../../lib/queues";
import { isContactCapsRefusal } from "../contact-properties";
import { claimStatements } from "../identity/claims";
import { importEvent } from "../webhooks/events";
import { enqueueWebhookDeliveries, webhookOutboxStatement } from "../webhooks/outbox";
import type { ChunkRead } from "./chunk-reader";
import { dryRunStatements } from "./dry-run";
import { type InvalidRow, jsonParamChunks, type ValidRow } from "./duplicates";
import { loadJob } from "./job-state";
import { MAX_STORED_ERRORS } from "./jobs";
import { optOutStatements } from "./opt-outs";
import { importUpsertStatements } from "./upsert";

/** A chunk read and validated: `valid` are the rows the chunk writes (contacts, or suppressions). */
export type ChunkResult<Valid = ValidRow> = { read: ChunkRead<unknown>; valid: Valid[]; invalid: InvalidRow[] };

/**
 * The job as the chunk's commit leaves it: the checkpoint statement writes exactly these fields,
 * so an invocation that goes on to the next chunk needn't read the job back.
 */
export function advanceJob(job: ImportJob, { read, valid, invalid }: ChunkResult<unknown>, now: Date): ImportJob {
  const checkpointRow = job.checkpointRow + read.rows.length;
  return {
    ...job,
    status: read.eof ? "completed" : "processing",
    header: read.header,
    checkpointOffset: read.end,
    checkpointRow,
    processedRows: job.processedRows + valid.length,
    failedRows: job.failedRows + invalid.length,
    totalRows: read.eof ? checkpointRow : job.totalRows,
    finishedAt: read.eof ? now : null,
    recoveryAttempts: 0, // progress: self-healing starts counting again
    updatedAt: now,
  };
}

/**
 * A contact chunk's writes: the claims of email-keyed contacts, the contact upserts (each with its
 * address changes recorded) and opt-outs; a dry run's seen ids and would-create/update counts instead.
 */
export function contactWrites(db: Database, job: ImportJob, valid: ValidRow[], now: Date): BatchStatement[] {
  if (job.options?.dryRun) return dryRunStatements(db, job, valid);
  const claims = valid.map(({ contact }) => ({ userId: contact.externalId, email: contact.email }));
  return [
    ...claimStatements(db, claims, now),
    ...importUpsertStatements(db, job.id, valid, now),
    ...optOutStatements(db, job, valid, now),
  ];
}

/**
 * Commits the chunk in one batch: ledger row, moved checkpoint and counters, errors, then the
 * chunk's own `writes`. False when another delivery committed this checkpoint first (or the job
 * ended); "over_caps" when a contact row's properties took its contact past the contact caps
 * (nothing is written: see refusingMerge).
 */
export async function commitChunk(
  db: Database,
  job: ImportJob,
  chunk: ChunkResult<unknown>,
  now: Date,
  writes: BatchStatement[],
  webhookQueue?: Queue<WebhookDeliveryMessage>,
): Promise<boolean | "over_caps"> {
  const completed = chunk.read.eof ? importEvent(advanceJob(job, chunk, now), "completed", now) : null;
  try {
    const results = await runBatch(db, [
      ledgerStatement(db, job, chunk.read, now),
      checkpointStatement(db, job, chunk, now),
      ...errorStatements(db, job, chunk.invalid),
      ...writes,
      ...(completed ? [webhookOutboxStatement(db, completed.event, completed.when)] : []),
    ]);
    if (completed) await enqueueWebhookDeliveries(webhookQueue, results.slice(-1));
    return true;
  } catch (err) {
    if (isContactCapsRefusal(err)) return "over_caps";
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
function ledgerStatement(db: Database, job: ImportJob, read: ChunkRead<unknown>, now: Date) {
  return db.insert(importChunks).values({
    jobId: job.id,
    startOffset: sql`(SELECT ${importJobs.checkpointOffset} FROM ${importJobs} WHERE ${importJobs.id} = ${job.id} AND ${importJobs.checkpointOffset} = ${job.checkpointOffset} AND ${importJobs.status} = 'processing')`,
    endOffset: read.end,
    rows: read.rows.length,
    committedAt: now,
  });
}

function checkpointStatement(db: Database, job: ImportJob, chunk: ChunkResult<unknown>, now: Date) {
  const next = advanceJob(job, chunk, now);
  return db
    .update(importJobs)
    .set({
      status: next.status,
      header: next.header,
      checkpointOffset: next.checkpointOffset,
      checkpointRow: next.checkpointRow,
      processedRows: next.processedRows,
      failedRows: next.failedRows,
      totalRows: next.totalRows,
      finishedAt: next.finishedAt,
      recoveryAttempts: next.recoveryAttempts,
      updatedAt: next.updatedAt,
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
