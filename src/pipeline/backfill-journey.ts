import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import { type BatchPlan, plan, runPlans } from "../db/batch-plan";
import type { Database } from "../db/client";
import { type BackfillJob, backfillTallies, contacts, enrollments } from "../db/schema";
import type { JourneyDefinition } from "../journeys/define";
import { type EntryDecision, enterPlan, previewEntriesPlan } from "../services/entry-guards";
import { type SegmentPage, segmentWhere } from "../services/segments";
import { hashedAddresses } from "../services/suppressions";
import { enqueueStarts } from "../services/workflow-instances";
import { tallyStatements } from "./backfill-tallies";
import type { BackfillPageDeps, PageAction, PageSpan } from "./page-action";

/** A journey backfill's page: every entry guard decided for the page's contacts, who passes enrolled. */
export function journeyAction(deps: BackfillPageDeps, journey: JourneyDefinition): PageAction<EntryDecision[]> {
  return {
    trigger: journey.trigger.where,
    decide: (job, page, now) => decideEntries(deps, { job, journey, page }, now),
    async handOut(job, span, decided) {
      const ids = decided ? enrolledIds(decided) : job.dryRun ? [] : await pageEnrollmentIds(deps.db, job, span);
      await enqueueStarts(deps.journeyStarts, ids);
    },
  };
}

const enrolledIds = (decisions: EntryDecision[]) => decisions.flatMap((d) => (d.enrolled ? [d.enrollmentId] : []));

type Work = { job: BackfillJob; journey: JourneyDefinition; page: SegmentPage };

async function decideEntries({ db, hash }: BackfillPageDeps, work: Work, now: Date) {
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
  if (job.dryRun) {
    const [preview] = await runPlans(db, previewEntriesPlan(db, journey, candidates, now));
    const outcomes = preview.map((d) => (d.enrolled ? "enrolled" : d.reason));
    return plan(tallyStatements(db, job.id, outcomes), () => preview) as BatchPlan<EntryDecision[]>;
  }
  return enterPlan(db, journey, candidates, { source: "batch", now, afterChunk: tallyAfterChunk(job.id) });
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

/**
 * A lost page's enrollments: same journey, same commit time, contacts in the page's id range.
 */
async function pageEnrollmentIds(db: Database, job: BackfillJob, span: PageSpan) {
  const users = db
    .select({ id: contacts.externalId })
    .from(contacts)
    .where(and(sql`${contacts.id} > ${span.start}`, sql`${contacts.id} <= ${span.end}`, segmentWhere(job.filter)));
  const rows = await db
    .select({ id: enrollments.id })
    .from(enrollments)
    .where(
      and(
        eq(enrollments.journeyKey, job.journeyKey),
        eq(enrollments.enrolledAt, span.committedAt),
        inArray(enrollments.userId, users),
      ),
    );
  return rows.map((r) => r.id);
}
