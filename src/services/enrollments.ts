import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { eventPending } from "../db/guarded";
import { personKey } from "../db/person-key";
import { ENROLLMENT_STATUSES, type Enrollment, type EnrollmentStatus, enrollments } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { chunkForParams, keysetPage } from "../lib/sql";
import { type AuditDraft, auditStatements } from "./audit-log";
import { stopInstances, type WorkflowDeps } from "./workflow-instances";

export const RUNNING: EnrollmentStatus[] = ["active", "waiting"];
export const isRunningStatus = (status: EnrollmentStatus) => RUNNING.includes(status);

/** `event_id`: the event (of those asked about) that the enrollment waits for. */
export type WaitingEnrollment = { id: string; user_id: string; waiting_for: string; event_id: string };

/**
 * Running enrollments of these users that wait for these event names (statements to batch). With
 * `onlyIfEventPending`, an event only counts while it is stored and unprocessed (see db/guarded).
 */
export function waitingForStatements(
  db: Database,
  events: Array<{ id: string; userId: string; event: string }>,
  options: { onlyIfEventPending?: boolean } = {},
) {
  return chunkForParams(events, 3).map((chunk) => {
    const values = sql.join(
      chunk.map((e) => sql`(${e.userId}, ${e.event}, ${e.id})`),
      sql`, `,
    );
    const guard = options.onlyIfEventPending ? sql`AND ${eventPending(sql.raw("v.column3"))}` : sql``;
    return db.all<WaitingEnrollment>(
      sql`SELECT e.id, e.user_id, e.waiting_for, v.column3 AS event_id FROM enrollments e JOIN (VALUES ${values}) v
        ON e.user_id = ${personKey(sql.raw("v.column1"))} AND e.waiting_for = v.column2 WHERE e.status = 'waiting' ${guard}`,
    );
  });
}

/**
 * Running enrollments these events triggered (to re-queue their workflow starts; starts are
 * idempotent). Looked up through the user index: there is none on trigger_event_id.
 */
export async function activeEnrollmentsTriggeredBy(
  db: Database,
  events: Array<{ id: string; userId: string }>,
): Promise<string[]> {
  const results = (await runBatch(
    db,
    chunkForParams(events, 2, 96).map((chunk) =>
      db
        .select({ id: enrollments.id })
        .from(enrollments)
        .where(
          and(
            inArray(enrollments.userId, [...new Set(chunk.map((e) => e.userId))]),
            inArray(enrollments.status, RUNNING),
            inArray(
              enrollments.triggerEventId,
              chunk.map((e) => e.id),
            ),
          ),
        ),
    ),
  )) as Array<Array<{ id: string }>>;
  return results.flat().map((row) => row.id);
}

// ---- lifecycle transitions, used by the workflow; none of them revives a finished enrollment ----

export async function getEnrollment(db: Database, id: string): Promise<Enrollment> {
  const [row] = await db.select().from(enrollments).where(eq(enrollments.id, id)).limit(1);
  if (!row) throw notFound("Enrollment");
  return row;
}

export async function setRunningState(
  db: Database,
  id: string,
  state: { status: "active" } | { status: "waiting"; waitingFor: string | null },
) {
  const [row] = await db
    .update(enrollments)
    .set({
      status: state.status,
      waitingFor: state.status === "waiting" ? state.waitingFor : null,
      updatedAt: new Date(),
    })
    .where(and(eq(enrollments.id, id), inArray(enrollments.status, RUNNING)))
    .returning({ id: enrollments.id });
  return Boolean(row);
}

export async function finishEnrollment(
  db: Database,
  id: string,
  outcome: { status: "completed" } | { status: "failed"; error: string },
) {
  const now = new Date();
  await db
    .update(enrollments)
    .set({
      status: outcome.status,
      error: outcome.status === "failed" ? outcome.error : null,
      waitingFor: null,
      finishedAt: now,
      updatedAt: now,
    })
    .where(and(eq(enrollments.id, id), inArray(enrollments.status, RUNNING)));
}

export async function isRunning(db: Database, id: string): Promise<boolean> {
  const [row] = await db
    .select({ status: enrollments.status })
    .from(enrollments)
    .where(eq(enrollments.id, id))
    .limit(1);
  return row ? isRunningStatus(row.status) : false;
}

// ---- admin reads ----

export function countByJourneyStatusStatement(db: Database) {
  return db
    .select({ journeyKey: enrollments.journeyKey, status: enrollments.status, n: sql<number>`count(*)` })
    .from(enrollments)
    .groupBy(enrollments.journeyKey, enrollments.status);
}

export type EnrollmentCounts = Record<EnrollmentStatus, number>;

export const noEnrollments = (): EnrollmentCounts =>
  Object.fromEntries(ENROLLMENT_STATUSES.map((status) => [status, 0])) as EnrollmentCounts;

export function countsByJourney(rows: Array<{ journeyKey: string; status: EnrollmentStatus; n: number }>) {
  const counts = new Map<string, EnrollmentCounts>();
  for (const row of rows) {
    const entry = counts.get(row.journeyKey) ?? noEnrollments();
    entry[row.status] = row.n;
    counts.set(row.journeyKey, entry);
  }
  return counts;
}

export async function countByJourneyAndStatus(db: Database) {
  return countsByJourney(await countByJourneyStatusStatement(db));
}

export async function listEnrollments(
  db: Database,
  query: { journeyKey: string; status?: EnrollmentStatus; limit: number; cursor?: string },
) {
  const rows = await db
    .select()
    .from(enrollments)
    .where(
      and(
        eq(enrollments.journeyKey, query.journeyKey),
        query.status ? eq(enrollments.status, query.status) : undefined,
        query.cursor ? lt(enrollments.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(enrollments.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { enrollments: page, nextCursor };
}

/** An admin ends one enrollment by hand and stops its workflow; no further email is sent. */
export async function exitEnrollmentManually(
  deps: WorkflowDeps & { db: Database },
  journeyKey: string,
  id: string,
  options: { audit?: AuditDraft } = {},
) {
  const enrollment = await markExitedByHand(deps.db, journeyKey, id, options.audit);
  await stopInstances(deps.workflow, [id]);
  return enrollment;
}

async function markExitedByHand(db: Database, journeyKey: string, id: string, audit?: AuditDraft): Promise<Enrollment> {
  const now = new Date();
  const exit = db
    .update(enrollments)
    .set({ status: "exited", exitReason: "manual", waitingFor: null, finishedAt: now, updatedAt: now })
    .where(and(eq(enrollments.id, id), eq(enrollments.journeyKey, journeyKey), inArray(enrollments.status, RUNNING)))
    .returning();
  const [row] = (await runBatch(db, [...auditStatements(db, audit), exit])).at(-1) as Enrollment[];
  if (row) return row;
  const existing = await getEnrollment(db, id);
  if (existing.journeyKey !== journeyKey) throw notFound("Enrollment");
  throw new AppError("CONFLICT", `Enrollment is already ${existing.status}`);
}

/** A person's latest enrollments, newest first (the console's person page). */
export function enrollmentsOfUser(db: Database, userId: string, limit = 20) {
  return db
    .select()
    .from(enrollments)
    .where(eq(enrollments.userId, userId))
    .orderBy(desc(enrollments.enrolledAt))
    .limit(limit);
}
