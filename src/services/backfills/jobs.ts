import { and, desc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { type BackfillJob, backfillJobs, backfillTallies, type SegmentFilter } from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { KeyedHash } from "../../lib/keyed-hash";
import type { BackfillPageMessage } from "../../lib/queues";
import { keysetPage } from "../../lib/sql";
import { type AuditDraft, auditStatements } from "../audit-log";
import { SKIP_REASONS, type SkipReason } from "../entry-guards";

export type BackfillDeps = { db: Database; hash: KeyedHash; queue: Queue<BackfillPageMessage> };

export type BackfillInput = {
  journeyKey: string;
  filter: SegmentFilter;
  /** At most this many matching contacts (all when absent). */
  limit?: number;
  pageSize: number;
  dryRun: boolean;
  /** Written with the job row. */
  audit?: AuditDraft;
};

/** Records the job and queues its first page; a failed send leaves no job behind. */
export async function createBackfillJob(deps: BackfillDeps, input: BackfillInput, now = new Date()) {
  const id = newId();
  const insert = deps.db.insert(backfillJobs).values({
    id,
    journeyKey: input.journeyKey,
    status: "pending",
    dryRun: input.dryRun,
    filter: input.filter,
    maxContacts: input.limit ?? null,
    pageSize: input.pageSize,
    createdAt: now,
    updatedAt: now,
  });
  await runBatch(deps.db, [...auditStatements(deps.db, input.audit, { targetIds: [id], status: 202 }), insert]);
  try {
    await deps.queue.send({ jobId: id, cursor: "" });
  } catch (err) {
    await deps.db.delete(backfillJobs).where(eq(backfillJobs.id, id));
    throw err;
  }
  return getBackfill(deps.db, id);
}

export async function loadBackfill(db: Database, jobId: string): Promise<BackfillJob | undefined> {
  const [job] = await db.select().from(backfillJobs).where(eq(backfillJobs.id, jobId));
  return job;
}

export const noSkips = () => Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;

type Tally = { jobId: string; outcome: string; n: number };

function backfillView(job: BackfillJob, tallies: Tally[]) {
  const skipped = noSkips();
  let enrolled = 0;
  for (const t of tallies) {
    if (t.outcome === "enrolled") enrolled += t.n;
    else if (t.outcome in skipped) skipped[t.outcome as SkipReason] += t.n;
  }
  return {
    id: job.id,
    journeyKey: job.journeyKey,
    status: job.status,
    dryRun: job.dryRun,
    filter: job.filter,
    limit: job.maxContacts,
    pageSize: job.pageSize,
    matched: job.matched,
    enrolled,
    skipped,
    pages: job.pages,
    error: job.error,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    updatedAt: job.updatedAt,
  };
}

export type BackfillView = ReturnType<typeof backfillView>;

async function withTallies(db: Database, jobs: BackfillJob[]): Promise<BackfillView[]> {
  if (jobs.length === 0) return [];
  const tallies = await db
    .select()
    .from(backfillTallies)
    .where(
      inArray(
        backfillTallies.jobId,
        jobs.map((j) => j.id),
      ),
    );
  return jobs.map((job) =>
    backfillView(
      job,
      tallies.filter((t) => t.jobId === job.id),
    ),
  );
}

export async function getBackfill(db: Database, jobId: string): Promise<BackfillView> {
  const job = await loadBackfill(db, jobId);
  if (!job) throw notFound("Backfill job");
  return (await withTallies(db, [job]))[0]!;
}

/** Newest first, keyset-paged; optionally one journey's. */
export async function listBackfills(db: Database, query: { journeyKey?: string; limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(backfillJobs)
    .where(
      and(
        // A broadcast's walk (journey key "") is listed with broadcasts.
        query.journeyKey ? eq(backfillJobs.journeyKey, query.journeyKey) : ne(backfillJobs.journeyKey, ""),
        query.cursor ? lt(backfillJobs.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(backfillJobs.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { backfills: await withTallies(db, page), nextCursor };
}

const RUNNING = ["pending", "processing"] as const;

/**
 * Stops a pending or processing job now: a page in flight can no longer commit (its ledger row
 * requires the job to be processing), so enrollments already made stay and nothing more is enrolled.
 */
export async function cancelBackfill(db: Database, jobId: string, options: { audit?: AuditDraft; now?: Date } = {}) {
  const now = options.now ?? new Date();
  const cancel = db
    .update(backfillJobs)
    .set({ status: "cancelled", finishedAt: now, updatedAt: now })
    .where(and(eq(backfillJobs.id, jobId), inArray(backfillJobs.status, [...RUNNING])))
    .returning({ id: backfillJobs.id });
  const [cancelled] = (await runBatch(db, [...auditStatements(db, options.audit), cancel])).at(-1) as Array<{
    id: string;
  }>;
  if (!cancelled) {
    const job = await loadBackfill(db, jobId);
    if (!job) throw notFound("Backfill job");
    throw new AppError("CONFLICT", `Backfill job is already ${job.status}`);
  }
  return getBackfill(db, jobId);
}

/** The job stops where it is with the message; counts keep what was committed. */
export async function failBackfill(db: Database, jobId: string, error: string, now = new Date()) {
  await db
    .update(backfillJobs)
    .set({ status: "failed", error, finishedAt: now, updatedAt: now })
    .where(and(eq(backfillJobs.id, jobId), inArray(backfillJobs.status, [...RUNNING])));
}

/** The last delivery of a page failed too: the job stops at its cursor, with the page's error. */
export async function failBackfillAfterRetries(
  db: Database,
  page: BackfillPageMessage,
  attempts: number,
  error: unknown,
) {
  const job = await loadBackfill(db, page.jobId);
  const at = job?.cursor ?? page.cursor;
  await failBackfill(
    db,
    page.jobId,
    `Backfill stopped after ${attempts} failed attempts at contact cursor "${at}": ${String(error)}`,
  );
}

export async function markBackfillProcessing(db: Database, jobId: string, now: Date) {
  await db
    .update(backfillJobs)
    .set({ status: "processing", startedAt: now, updatedAt: now })
    .where(and(eq(backfillJobs.id, jobId), eq(backfillJobs.status, "pending")));
  return loadBackfill(db, jobId);
}

/** Running jobs and the contacts they have walked so far, for the metrics overview. */
export function runningBackfillsStatement(db: Database) {
  return db
    .select({
      running: sql<number>`count(*)`.as("running"),
      matched: sql<number>`coalesce(sum(${backfillJobs.matched}), 0)`.as("matched"),
    })
    .from(backfillJobs)
    .where(and(inArray(backfillJobs.status, [...RUNNING]), ne(backfillJobs.journeyKey, "")));
}
