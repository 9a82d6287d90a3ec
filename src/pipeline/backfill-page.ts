import { and, eq, sql } from "drizzle-orm";
import { type BatchPlan, runPlans, writes } from "../db/batch-plan";
import type { Database } from "../db/client";
import { type BackfillJob, backfillJobs, backfillPages } from "../db/schema";
import { findJourney } from "../journeys/registry";
import type { BackfillPageMessage } from "../lib/queues";
import { failBackfill, loadBackfill, markBackfillProcessing } from "../services/backfills/jobs";
import { BROADCAST_JOURNEY_KEY, loadBroadcast } from "../services/broadcasts/jobs";
import { type SegmentPage, segmentPage } from "../services/segments";
import { backfillCompletedEvent } from "../services/webhooks/events";
import { webhookOutboxStatement } from "../services/webhooks/outbox";
import { journeyAction } from "./backfill-journey";
import { broadcastAction } from "./broadcast-page";
import type { BackfillPageDeps, PageAction, PageSpan } from "./page-action";

export type { BackfillPageDeps };

export type PageOutcome = "continued" | "completed" | "stale" | "ended" | "missing" | "failed" | "scheduled";

/** A page looks at up to this many contacts per contact it may take, so sparse filters stay bounded. */
export const SCAN_PER_PAGE_ROW = 10;

/** A queue message waits at most 12 hours; a later start is waited out in several hops. */
const MAX_DELAY_SECONDS = 12 * 3600;

/**
 * Processes the page of a backfill job (a journey's, or a broadcast's) that starts at the job's
 * cursor: reads the next matching contacts, decides them (enrollments, or email rows), and commits
 * that, the page's ledger row and the moved cursor in one batch. A message whose cursor is not the
 * job's is a duplicate of a page already committed and writes nothing.
 */
export async function processBackfillPage(
  deps: BackfillPageDeps,
  message: BackfillPageMessage,
  now = new Date(),
): Promise<PageOutcome> {
  let job = await loadBackfill(deps.db, message.jobId);
  if (!job) return "missing";
  const action = await actionFor(deps, job);
  if (!action) {
    await failBackfill(deps.db, job.id, `Journey "${job.journeyKey}" is no longer defined`, now);
    return "failed";
  }
  if (job.status === "pending" && action.notBefore && action.notBefore > now) {
    const wait = Math.ceil((action.notBefore.getTime() - now.getTime()) / 1000);
    await deps.queue.send(message, { delaySeconds: Math.min(wait, MAX_DELAY_SECONDS) });
    return "scheduled";
  }
  if (job.status === "pending") job = await markBackfillProcessing(deps.db, job.id, now);
  if (job?.status !== "processing" || message.cursor !== job.cursor) {
    if (job) await finishLostPage(deps, job, action, message.cursor);
    return job?.status === "processing" ? "stale" : "ended";
  }
  const take = job.maxContacts === null ? job.pageSize : Math.min(job.pageSize, job.maxContacts - job.matched);
  const page = await segmentPage(deps.db, {
    filter: job.filter,
    trigger: action.trigger,
    after: job.cursor,
    take,
    scan: job.pageSize * SCAN_PER_PAGE_ROW,
  });
  const done = page.exhausted || (job.maxContacts !== null && job.matched + page.rows.length >= job.maxContacts);
  const work = { job, page, done };
  const decided = await commitPage(deps.db, work, await action.decide(job, page, now), now);
  if (decided === null) return "stale";
  const span = { start: job.cursor, end: page.end, done, committedAt: now };
  await afterCommit(deps, job, action, span, { decided: decided.value, rows: page.rows.length });
  return done ? "completed" : "continued";
}

async function actionFor(deps: BackfillPageDeps, job: BackfillJob): Promise<PageAction<unknown> | null> {
  if (job.journeyKey === BROADCAST_JOURNEY_KEY) {
    const broadcast = await loadBroadcast(deps.db, job.id);
    return broadcast ? (broadcastAction(deps, broadcast) as PageAction<unknown>) : null;
  }
  const journey = findJourney(job.journeyKey);
  return journey ? (journeyAction(deps, journey) as PageAction<unknown>) : null;
}

type PageWork = { job: BackfillJob; page: SegmentPage; done: boolean };

/**
 * One batch: ledger row (first, so a stale or repeated commit writes nothing), the page's
 * decisions, and the moved cursor. Null when another delivery (or a cancel) got there first.
 */
async function commitPage<T>(
  db: Database,
  work: PageWork,
  decide: BatchPlan<T>,
  now: Date,
): Promise<{ value: T } | null> {
  const { job } = work;
  try {
    const [, value] = await runPlans(
      db,
      writes([ledgerStatement(db, work, now)]),
      decide,
      writes([cursorStatement(db, work, now), ...completedStatements(db, work, now)]),
    );
    return { value };
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
  // A broadcast walks as a backfill job, but its end is no backfill.completed.
  const isBackfill = job.journeyKey !== BROADCAST_JOURNEY_KEY;
  return done && isBackfill ? [webhookOutboxStatement(db, completed.event, completed.when)] : [];
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

/** Hands out the page's work and queues the next page, then marks the ledger row as done. */
async function afterCommit(
  deps: BackfillPageDeps,
  job: BackfillJob,
  action: PageAction<unknown>,
  span: PageSpan,
  page: { decided: unknown; rows: number },
) {
  await action.handOut(job, span, page.decided);
  if (!span.done) {
    const delaySeconds = action.nextPageDelay?.(page.rows) ?? 0;
    await deps.queue.send({ jobId: job.id, cursor: span.end }, delaySeconds > 0 ? { delaySeconds } : undefined);
  }
  await deps.db
    .update(backfillPages)
    .set({ followUpSent: true })
    .where(and(eq(backfillPages.jobId, job.id), eq(backfillPages.startCursor, span.start)));
}

/**
 * A retried message for the page just committed whose invocation died before handing out its work
 * or queueing the next page: the action finds the page's work again in D1 and both happen now.
 */
async function finishLostPage(deps: BackfillPageDeps, job: BackfillJob, action: PageAction<unknown>, start: string) {
  const [page] = await deps.db
    .select()
    .from(backfillPages)
    .where(and(eq(backfillPages.jobId, job.id), eq(backfillPages.startCursor, start)));
  if (!page || page.followUpSent || page.endCursor !== job.cursor) return;
  const span = { start, end: page.endCursor, done: job.status !== "processing", committedAt: page.committedAt };
  await afterCommit(deps, job, action, span, { decided: null, rows: page.matched });
}
