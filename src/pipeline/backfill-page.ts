import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { type BatchPlan, plan, runPlans, writes } from "../db/batch-plan";
import type { Database } from "../db/client";
import { type BackfillJob, backfillJobs, backfillPages, backfillTallies, contacts, enrollments } from "../db/schema";
import type { JourneyDefinition } from "../journeys/define";
import { findJourney } from "../journeys/registry";
import type { BackfillPageMessage, JourneyStartMessage } from "../lib/queues";
import { type BackfillDeps, failBackfill, loadBackfill, markBackfillProcessing } from "../services/backfills/jobs";
import { type EntryDecision, enterPlan, previewEntriesPlan } from "../services/entry-guards";
import { type SegmentPage, segmentPage, segmentWhere } from "../services/segments";
import { hashedAddresses } from "../services/suppressions";
import { backfillCompletedEvent } from "../services/webhooks/events";
import { webhookOutboxStatement } from "../services/webhooks/outbox";
import { enqueueStarts } from "../services/workflow-instances";

export type BackfillPageDeps = BackfillDeps & { journeyStarts: Queue<JourneyStartMessage> };

export type PageOutcome = "continued" | "completed" | "stale" | "ended" | "missing" | "failed";

/** A page looks at up to this many contacts per contact it may take, so sparse filters stay bounded. */
export const SCAN_PER_PAGE_ROW = 10;

/**
 * Processes the page of a backfill that starts at the job's cursor: reads the next matching
 * contacts, decides every entry guard for them and enrolls who passes, and commits the enrollments,
 * the outcome tallies and the moved cursor in one batch. A message whose cursor is not the job's is
 * a duplicate of a page already committed and enrolls nothing.
 */
export async function processBackfillPage(
  deps: BackfillPageDeps,
  message: BackfillPageMessage,
  now = new Date(),
): Promise<PageOutcome> {
  let job = await loadBackfill(deps.db, message.jobId);
  if (!job) return "missing";
  if (job.status === "pending") job = await markBackfillProcessing(deps.db, job.id, now);
  if (job?.status !== "processing" || message.cursor !== job.cursor) {
    if (job) await finishLostPage(deps, job, message.cursor);
    return job?.status === "processing" ? "stale" : "ended";
  }
  const journey = findJourney(job.journeyKey);
  if (!journey) {
    await failBackfill(deps.db, job.id, `Journey "${job.journeyKey}" is no longer defined`, now);
    return "failed";
  }
  const take = job.maxContacts === null ? job.pageSize : Math.min(job.pageSize, job.maxContacts - job.matched);
  const page = await segmentPage(deps.db, {
    filter: job.filter,
    trigger: journey.trigger.where,
    after: job.cursor,
    take,
    scan: job.pageSize * SCAN_PER_PAGE_ROW,
  });
  const done = page.exhausted || (job.maxContacts !== null && job.matched + page.rows.length >= job.maxContacts);
  const decisions = await commitPage(deps, { job, journey, page, done }, now);
  if (!decisions) return "stale";
  await afterCommit(deps, job, { start: job.cursor, end: page.end, done }, enrolledIds(decisions));
  return done ? "completed" : "continued";
}

type PageWork = { job: BackfillJob; journey: JourneyDefinition; page: SegmentPage; done: boolean };

const enrolledIds = (decisions: EntryDecision[]) => decisions.flatMap((d) => (d.enrolled ? [d.enrollmentId] : []));

/**
 * One batch: ledger row (first, so a stale or repeated commit writes nothing), the page's
 * decisions with their tallies, and the moved cursor. Null when another delivery got there first.
 */
async function commitPage({ db, hash }: BackfillPageDeps, work: PageWork, now: Date): Promise<EntryDecision[] | null> {
  const { job, journey, page } = work;
  const hashes = await hashedAddresses(
    hash,
    page.rows.map((row) => row.email),
  );
  const candidates = page.rows.map((row, i) => ({
    userId: row.externalId,
    triggerEventId: null,
    triggerMatched: row.triggerMatched === 1,
    givenEmail: false, // the contact must have an address in D1
    emailHash: hashes[i],
  }));
  try {
    let decide: BatchPlan<EntryDecision[]>;
    if (job.dryRun) {
      const preview = await runPlans(db, previewEntriesPlan(db, journey, candidates, now));
      decide = plan(tallyStatements(db, job.id, preview[0]), () => preview[0]);
    } else {
      decide = enterPlan(db, journey, candidates, { source: "batch", now, afterChunk: tallyAfterChunk(job.id) });
    }
    const [, decisions] = await runPlans(
      db,
      writes([ledgerStatement(db, work, now)]),
      decide,
      writes([cursorStatement(db, work, now), ...completedStatements(db, work, now)]),
    );
    return decisions;
  } catch (err) {
    const current = await loadBackfill(db, job.id);
    if (!current || current.cursor !== job.cursor || current.status !== "processing") return null;
    throw err;
  }
}

function ledgerStatement(db: Database, { job, page }: PageWork, now: Date) {
  return db.insert(backfillPages).values({
    jobId: job.id,
    startCursor: sql`(SELECT ${backfillJobs.cursor} FROM ${backfillJobs} WHERE ${backfillJobs.id} = ${job.id} AND ${backfillJobs.cursor} = ${job.cursor} AND ${backfillJobs.status} = 'processing')`,
    endCursor: page.end,
    matched: page.rows.length,
    committedAt: now,
  });
}

function completedStatements(db: Database, { job, done }: PageWork, now: Date) {
  const completed = backfillCompletedEvent(job, now);
  return done ? [webhookOutboxStatement(db, completed.event, completed.when)] : [];
}

function cursorStatement(db: Database, { job, page, done }: PageWork, now: Date) {
  return db
    .update(backfillJobs)
    .set({
      status: done ? "completed" : "processing",
      cursor: page.end,
      pages: sql`${backfillJobs.pages} + 1`,
      matched: sql`${backfillJobs.matched} + ${page.rows.length}`,
      finishedAt: done ? now : null,
      recoveryAttempts: 0,
      updatedAt: now,
    })
    .where(
      and(eq(backfillJobs.id, job.id), eq(backfillJobs.cursor, job.cursor), eq(backfillJobs.status, "processing")),
    );
}

/**
 * Counts a chunk's outcomes in SQL after its insert: `enrolled` when the enrollment row exists,
 * else the guard's reason. The counts are what D1 holds, committed with the enrollments.
 */
const tallyAfterChunk =
  (jobId: string) =>
  (decided: SQL): SQL =>
    sql`${decided}
    INSERT INTO ${backfillTallies} (job_id, outcome, n)
    SELECT ${jobId}, CASE WHEN EXISTS (SELECT 1 FROM ${enrollments} e WHERE e.id = decided.enrollment_id) THEN 'enrolled' ELSE coalesce(decided.reason, 'already_active') END AS outcome, count(*)
    FROM decided GROUP BY outcome
    ON CONFLICT (job_id, outcome) DO UPDATE SET n = n + excluded.n`;

/** A dry run's outcomes, decided before the batch (nothing is enrolled), added in it. */
function tallyStatements(db: Database, jobId: string, decisions: EntryDecision[]) {
  const counts = new Map<string, number>();
  for (const d of decisions) {
    const outcome = d.enrolled ? "enrolled" : d.reason;
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  return [...counts].map(([outcome, n]) =>
    db
      .insert(backfillTallies)
      .values({ jobId, outcome, n })
      .onConflictDoUpdate({
        target: [backfillTallies.jobId, backfillTallies.outcome],
        set: { n: sql`${backfillTallies.n} + excluded.n` },
      }),
  );
}

type PageSpan = { start: string; end: string; done: boolean };

/** Starts the page's workflows and queues the next page, then marks the ledger row as done. */
async function afterCommit(deps: BackfillPageDeps, job: BackfillJob, span: PageSpan, enrollmentIds: string[]) {
  await enqueueStarts(deps.journeyStarts, enrollmentIds);
  if (!span.done) await deps.queue.send({ jobId: job.id, cursor: span.end });
  await deps.db
    .update(backfillPages)
    .set({ followUpSent: true })
    .where(and(eq(backfillPages.jobId, job.id), eq(backfillPages.startCursor, span.start)));
}

/**
 * A retried message for the page just committed whose invocation died before starting its
 * workflows or queueing the next page: finds the page's enrollments (same journey, same commit
 * time, contacts in the page's id range) and does both now.
 */
async function finishLostPage(deps: BackfillPageDeps, job: BackfillJob, start: string) {
  const [page] = await deps.db
    .select()
    .from(backfillPages)
    .where(and(eq(backfillPages.jobId, job.id), eq(backfillPages.startCursor, start)));
  if (!page || page.followUpSent || page.endCursor !== job.cursor) return;
  const ids = job.dryRun ? [] : await pageEnrollmentIds(deps.db, job, page);
  await afterCommit(deps, job, { start, end: page.endCursor, done: job.status !== "processing" }, ids);
}

async function pageEnrollmentIds(db: Database, job: BackfillJob, page: typeof backfillPages.$inferSelect) {
  const users = db
    .select({ id: contacts.externalId })
    .from(contacts)
    .where(
      and(
        sql`${contacts.id} > ${page.startCursor}`,
        sql`${contacts.id} <= ${page.endCursor}`,
        segmentWhere(job.filter),
      ),
    );
  const rows = await db
    .select({ id: enrollments.id })
    .from(enrollments)
    .where(
      and(
        eq(enrollments.journeyKey, job.journeyKey),
        eq(enrollments.enrolledAt, page.committedAt),
        inArray(enrollments.userId, users),
      ),
    );
  return rows.map((r) => r.id);
}
