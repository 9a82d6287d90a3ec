import type { ImportJob } from "../../db/schema";
import { errorFields, log } from "../../lib/log";
import type { ImportChunkMessage } from "../../lib/queues";
import { suppressionChunkHandler } from "../suppression-list/import-chunk";
import { type ChunkRead, readChunk } from "./chunk-reader";
import { advanceJob, commitChunk, contactWrites } from "./commit";
import { partitionRows, type RunIds, withoutRowsOverCaps } from "./duplicates";
import { failJob, resendLostFollowUp, sendFollowUp, startOrLoadJob } from "./job-state";
import { forgetSeenIds, type ImportDeps, uploadKey } from "./jobs";
import { convertJsonArray } from "./json-array";
import { type RowReaders, rowReaders } from "./mapped-rows";
import { UnreadableFileError } from "./readers";
import type { ImportRow } from "./rows";

export { failJob, failJobAfterRetries } from "./job-state";

/**
 * Rows per chunk. Upserts carry ~1,500 rows per statement (a 256 KB JSON parameter), so a chunk is
 * about eight statements in one batch. The bound is the isolate's memory: with the next chunk read
 * ahead, two chunks are in memory at once; at 10,000 rows the Worker's heap peaked 47 MiB over idle
 * (`npm run bench:import`), at 20,000 rows 93 MiB, close to Workers' 128 MB, at the same speed.
 */
export const DEFAULT_CHUNK_ROWS = 10_000;

export type ChunkOutcome = "continued" | "completed" | "failed" | "stale" | "ended" | "missing";

/**
 * Chunks per invocation (each its own batch and checkpoint): fewer queue hops, and the next
 * chunk is read from R2 and parsed while the current one commits. Twenty chunks are ~200 D1 queries
 * and a few seconds of CPU, inside a queue invocation's limits.
 */
export const DEFAULT_CHUNKS_PER_INVOCATION = 20;

/**
 * The queue consumer's first chunk per invocation: a short one starts the pipeline sooner (the next
 * chunk is read and parsed while it commits), which a 10,000-row file notices (~15% faster).
 */
export const FIRST_CHUNK_ROWS = 2_500;

export type ChunkOptions = { chunkRows?: number; firstChunkRows?: number; chunks?: number; now?: Date };

type Settled<T> = { value: T } | { error: unknown };
const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

/**
 * Processes an import from the checkpoint this message points at: up to `chunks` chunks, each
 * read from R2 from its byte offset, validated, and committed (contact upserts, errors, moved
 * checkpoint) in one batch of its own, the next chunk read while the current one commits. Then it
 * queues the next message. A message whose offset is not the job's checkpoint is a duplicate of a
 * chunk already committed and changes nothing. The first chunk's failure is the message's (the
 * queue retries it); a later chunk's failure ends the invocation early and its follow-up retries it.
 */
export async function processImportChunk(
  deps: ImportDeps,
  message: ImportChunkMessage,
  { chunkRows = DEFAULT_CHUNK_ROWS, firstChunkRows = chunkRows, chunks = 1, now = new Date() }: ChunkOptions = {},
): Promise<ChunkOutcome> {
  // Each chunk commits with its own time (progress that self-healing reads), offset from `now`.
  const startedAt = Date.now();
  const clock = () => new Date(now.getTime() + (Date.now() - startedAt));
  const claimed = await claimCheckpoint(deps, message, now);
  if (typeof claimed === "string") return claimed;
  let job = claimed;
  const handler = chunkHandler(deps, job);
  let reading = settle(readChunk(deps.bucket, job, firstChunkRows, handler.readers));
  let lastStart = job.checkpointOffset;
  for (let done = 0; done < chunks; done++) {
    const read = await reading;
    if ("value" in read && !read.value.eof && done + 1 < chunks) {
      reading = settle(readChunk(deps.bucket, readFrom(job, read.value), chunkRows, handler.readers)); // read ahead
    }
    const step = "error" in read ? read : await settle(handler.commit(job, read.value, clock()));
    if ("error" in step) {
      if (step.error instanceof UnreadableFileError)
        return failJob(deps.db, job, step.error.message, clock(), deps.webhookQueue);
      if (done === 0) throw step.error;
      log.warn("import chunk failed; its follow-up message retries it", { jobId: job.id, ...errorFields(step.error) });
      break;
    }
    if (step.value === "stale") return "stale";
    if (step.value.status === "completed") {
      if (job.options?.dryRun) await forgetSeenIds(deps.db, job.id); // only dry runs write them
      return "completed";
    }
    lastStart = job.checkpointOffset;
    job = step.value;
  }
  await sendFollowUp(deps, job.id, lastStart, job.checkpointOffset);
  return "continued";
}

/** How a job's chunks are read into rows and committed: contacts, or suppressions. */
type ChunkHandler<Row> = {
  readers: RowReaders<Row>;
  /** The job as the chunk's commit leaves it, or "stale" if another delivery won. */
  commit(job: ImportJob, read: ChunkRead<Row>, now: Date): Promise<ImportJob | "stale">;
};

function chunkHandler(deps: ImportDeps, job: ImportJob): ChunkHandler<unknown> {
  if (job.options?.kind === "suppressions") {
    return suppressionChunkHandler(deps, job.options) as ChunkHandler<unknown>;
  }
  const run: RunIds = { committed: new Set(), earlierRuns: job.checkpointRow > 0 };
  const contacts: ChunkHandler<ImportRow> = {
    readers: rowReaders(job.options),
    commit: (current, read, now) => commitRead(deps, current, read, run, now),
  };
  return contacts as ChunkHandler<unknown>;
}

/** Where the chunk after `read` starts, for reading it before `read` commits. */
const readFrom = (job: ImportJob, read: ChunkRead<unknown>): ImportJob => ({
  ...job,
  checkpointOffset: read.end,
  checkpointRow: job.checkpointRow + read.rows.length,
  header: read.header,
});

/**
 * A commit refused for the contact caps is retried without the rows over them (a few times: an event
 * may grow another of the chunk's contacts past a cap in between; then the message's retry goes on).
 */
const CAPS_RETRIES = 3;

/** Validates and commits one chunk; the job as it now stands, or "stale" if another delivery won. */
async function commitRead(deps: ImportDeps, job: ImportJob, read: ChunkRead, run: RunIds, now: Date) {
  let rows = await partitionRows(deps.db, job, read.rows, run);
  for (let attempt = 0; ; attempt++) {
    const chunk = { read, ...rows };
    const committed = await commitChunk(
      deps.db,
      job,
      chunk,
      now,
      contactWrites(deps.db, job, rows.valid, now),
      deps.webhookQueue,
    );
    if (committed === "over_caps" && attempt < CAPS_RETRIES) {
      rows = await withoutRowsOverCaps(deps.db, rows);
      continue;
    }
    if (committed === "over_caps") throw new Error("import chunk: rows kept growing past the contact caps");
    if (!committed) return "stale" as const;
    for (const { contact } of rows.valid) run.committed.add(contact.externalId);
    return advanceJob(job, chunk, now);
  }
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
  const job = await startOrLoadJob(deps.db, message.jobId, now);
  if (!job) return "missing";
  if (job.status !== "processing") return "ended";
  if (message.offset !== job.checkpointOffset) {
    await resendLostFollowUp(deps, job, message.offset);
    return "stale";
  }
  if (job.format !== "json" || job.sourceKey !== uploadKey(job.id)) return job;
  const converted = await convertJsonArray(deps, job, now);
  if (!converted) return "stale";
  if ("error" in converted) return failJob(deps.db, job, converted.error, now, deps.webhookQueue);
  return converted.job;
}
