import { and, desc, eq, inArray, lt, sql, type SQL } from "drizzle-orm";
import { type BatchPlan, plan } from "../db/batch-plan";
import type { Database } from "../db/client";
import { ENROLLMENT_STATUSES, type Enrollment, type EnrollmentStatus, enrollments } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { chunk } from "../lib/chunk";
import { chunkForParams, keysetPage } from "../lib/sql";
import type { JourneyDefinition } from "../journeys/define";
import { durationMs } from "../journeys/duration";

/** Entry guards in the order they are checked; the first that fails is the reason. */
export const SKIP_REASONS = [
  "journey_disabled",
  "trigger_not_matched",
  "unsubscribed",
  "suppressed",
  "already_entered_once",
  "period_not_elapsed",
  "already_active",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type EntryCandidate = { userId: string; triggerEventId: string | null; triggerMatched: boolean };
export type EntryDecision = { userId: string; triggerEventId: string | null } & (
  | { enrolled: true; enrollmentId: string }
  | { enrolled: false; reason: SkipReason }
);

export const RUNNING: EnrollmentStatus[] = ["active", "waiting"];
export const isRunningStatus = (status: EnrollmentStatus) => RUNNING.includes(status);
const CANDIDATES_PER_STATEMENT = 16; // 5 bound params each, plus the journey's own, under D1's 100

/** The reason a real run gives a user's second entry in one call, by entry limit. */
const REPEAT_REASON: Record<JourneyDefinition["entryLimit"], SkipReason> = {
  once: "already_entered_once",
  once_per_period: "period_not_elapsed",
  unlimited: "already_active",
};

type Chunk = Array<EntryCandidate & { idx: number; enrollmentId: string }>;

/**
 * The entry guards as one SQL expression per candidate, evaluated inside D1 so the decision and the
 * enrollment insert happen in one transaction: two concurrent triggers can never both pass.
 */
function decidedCte(journey: JourneyDefinition, chunk: Chunk, now: Date): SQL {
  const since = journey.entryPeriod ? now.getTime() - durationMs(journey.entryPeriod) : 0;
  const values = sql.join(
    chunk.map((c) => sql`(${c.idx}, ${c.enrollmentId}, ${c.userId}, ${c.triggerEventId}, ${c.triggerMatched ? 1 : 0})`),
    sql`, `,
  );
  return sql`WITH cand(idx, enrollment_id, user_id, trigger_event_id, trigger_matched) AS (VALUES ${values}),
  decided AS (
    SELECT cand.*, CASE
      WHEN coalesce((SELECT enabled FROM journey_settings WHERE journey_key = ${journey.key}), ${journey.enabled ? 1 : 0}) = 0 THEN 'journey_disabled'
      WHEN cand.trigger_matched = 0 THEN 'trigger_not_matched'
      WHEN EXISTS (SELECT 1 FROM contacts c WHERE c.external_id = cand.user_id AND c.unsubscribed_at IS NOT NULL) THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM contacts c JOIN suppressions s ON s.email = lower(c.email) WHERE c.external_id = cand.user_id) THEN 'suppressed'
      WHEN ${journey.entryLimit} = 'once' AND EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id) THEN 'already_entered_once'
      WHEN ${journey.entryLimit} = 'once_per_period' AND EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id AND e.enrolled_at > ${since}) THEN 'period_not_elapsed'
      WHEN EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id AND e.status IN ('active', 'waiting')) THEN 'already_active'
    END AS reason
    FROM cand
  )`;
}

type EntryOptions = { source: "event" | "batch"; now?: Date };

/**
 * Candidates in statement-sized chunks. A user listed twice is decided in order (the second sees
 * the first's enrollment), because each occurrence goes into a later round of statements.
 */
function entryChunks(candidates: EntryCandidate[]): Chunk[] {
  const rounds: Chunk[] = [];
  const occurrences = new Map<string, number>();
  candidates.forEach((candidate, idx) => {
    const round = occurrences.get(candidate.userId) ?? 0;
    occurrences.set(candidate.userId, round + 1);
    (rounds[round] ??= []).push({ ...candidate, idx, enrollmentId: newId() });
  });
  return rounds.flatMap((round) => chunk(round, CANDIDATES_PER_STATEMENT));
}

function reasonsStatement(db: Database, journey: JourneyDefinition, candidates: Chunk, now: Date) {
  return db.all<{ idx: number; reason: SkipReason | null }>(
    sql`${decidedCte(journey, candidates, now)} SELECT idx, reason FROM decided`,
  );
}

function enrollStatement(db: Database, journey: JourneyDefinition, candidates: Chunk, options: Required<EntryOptions>) {
  const at = options.now.getTime();
  return db.all<{ id: string }>(sql`${decidedCte(journey, candidates, options.now)}
    INSERT INTO enrollments (id, journey_key, user_id, status, trigger_event_id, source, enrolled_at, updated_at)
    SELECT enrollment_id, ${journey.key}, user_id, 'active', trigger_event_id, ${options.source}, ${at}, ${at}
    FROM decided WHERE reason IS NULL
    ON CONFLICT DO NOTHING
    RETURNING id`);
}

type DecidedRow = { idx?: number; reason?: SkipReason | null; id?: string };

function readDecisions(results: unknown[]) {
  const reasonByIdx = new Map<number, SkipReason | null>();
  const inserted = new Set<string>();
  for (const row of (results as DecidedRow[][]).flat()) {
    if (row.idx !== undefined) reasonByIdx.set(row.idx, row.reason ?? null);
    if (row.id !== undefined) inserted.add(row.id);
  }
  return { reasonOf: (c: { idx: number }) => reasonByIdx.get(c.idx) ?? null, inserted };
}

const inInputOrder = (chunks: Chunk[]) => chunks.flat().sort((a, b) => a.idx - b.idx);

/**
 * Decides every entry guard for candidates of one journey and inserts the enrollments that pass,
 * atomically; decodes to one decision per candidate, in input order.
 */
export function enterPlan(
  db: Database,
  journey: JourneyDefinition,
  candidates: EntryCandidate[],
  options: EntryOptions,
): BatchPlan<EntryDecision[]> {
  const resolved = { source: options.source, now: options.now ?? new Date() };
  const chunks = entryChunks(candidates);
  const statements = chunks.flatMap((c) => [
    reasonsStatement(db, journey, c, resolved.now),
    enrollStatement(db, journey, c, resolved),
  ]);
  return plan(statements, (results) => {
    const { reasonOf, inserted } = readDecisions(results);
    return inInputOrder(chunks).map((c): EntryDecision => {
      const base = { userId: c.userId, triggerEventId: c.triggerEventId };
      if (inserted.has(c.enrollmentId)) return { ...base, enrolled: true, enrollmentId: c.enrollmentId };
      // Decided "enter" but the one-running index refused it: someone else entered first.
      return { ...base, enrolled: false, reason: reasonOf(c) ?? "already_active" };
    });
  });
}

/** What `enterPlan` would decide, writing nothing (would-be entries carry an empty enrollmentId). */
export function previewEntriesPlan(
  db: Database,
  journey: JourneyDefinition,
  candidates: EntryCandidate[],
  now = new Date(),
): BatchPlan<EntryDecision[]> {
  const chunks = entryChunks(candidates);
  return plan(
    chunks.map((c) => reasonsStatement(db, journey, c, now)),
    (results) => {
      const { reasonOf } = readDecisions(results);
      const wouldEnroll = new Set<string>();
      return inInputOrder(chunks).map((c): EntryDecision => {
        const base = { userId: c.userId, triggerEventId: c.triggerEventId };
        const reason = reasonOf(c);
        if (reason) return { ...base, enrolled: false, reason };
        // Nothing was inserted, so a user's later occurrence must be refused as the real run would.
        if (wouldEnroll.has(c.userId)) return { ...base, enrolled: false, reason: REPEAT_REASON[journey.entryLimit] };
        wouldEnroll.add(c.userId);
        return { ...base, enrolled: true, enrollmentId: "" };
      });
    },
  );
}

/** Ends a user's running enrollment in a journey; returns the ids it ended. */
export function exitStatement(db: Database, journeyKey: string, userId: string, exit: { reason: string; eventId?: string }, now = new Date()) {
  return db
    .update(enrollments)
    .set({ status: "exited", exitReason: exit.reason, exitEventId: exit.eventId ?? null, waitingFor: null, finishedAt: now, updatedAt: now })
    .where(and(eq(enrollments.journeyKey, journeyKey), eq(enrollments.userId, userId), inArray(enrollments.status, RUNNING)))
    .returning({ id: enrollments.id, journeyKey: enrollments.journeyKey });
}

export type WaitingEnrollment = { id: string; user_id: string; waiting_for: string };

/** What `exitStatement` would end, without ending it (dry runs). */
export function runningEnrollmentStatement(db: Database, journeyKey: string, userId: string) {
  return db
    .select({ id: enrollments.id, journeyKey: enrollments.journeyKey })
    .from(enrollments)
    .where(and(eq(enrollments.journeyKey, journeyKey), eq(enrollments.userId, userId), inArray(enrollments.status, RUNNING)));
}

/** Running enrollments of these users that wait for these event names (statements to batch). */
export function waitingForStatements(db: Database, pairs: Array<{ userId: string; event: string }>) {
  return chunkForParams(pairs, 2).map((chunk) => {
    const values = sql.join(chunk.map((p) => sql`(${p.userId}, ${p.event})`), sql`, `);
    return db.all<WaitingEnrollment>(
      sql`SELECT id, user_id, waiting_for FROM enrollments WHERE status = 'waiting' AND (user_id, waiting_for) IN (VALUES ${values})`,
    );
  });
}

// ---- lifecycle transitions, used by the workflow; none of them revives a finished enrollment ----

export async function getEnrollment(db: Database, id: string): Promise<Enrollment> {
  const [row] = await db.select().from(enrollments).where(eq(enrollments.id, id)).limit(1);
  if (!row) throw notFound("Enrollment");
  return row;
}

export async function setRunningState(db: Database, id: string, state: { status: "active" } | { status: "waiting"; waitingFor: string | null }) {
  const [row] = await db
    .update(enrollments)
    .set({ status: state.status, waitingFor: state.status === "waiting" ? state.waitingFor : null, updatedAt: new Date() })
    .where(and(eq(enrollments.id, id), inArray(enrollments.status, RUNNING)))
    .returning({ id: enrollments.id });
  return Boolean(row);
}

export async function finishEnrollment(db: Database, id: string, outcome: { status: "completed" } | { status: "failed"; error: string }) {
  const now = new Date();
  await db
    .update(enrollments)
    .set({ status: outcome.status, error: outcome.status === "failed" ? outcome.error : null, waitingFor: null, finishedAt: now, updatedAt: now })
    .where(and(eq(enrollments.id, id), inArray(enrollments.status, RUNNING)));
}

export async function isRunning(db: Database, id: string): Promise<boolean> {
  const [row] = await db.select({ status: enrollments.status }).from(enrollments).where(eq(enrollments.id, id)).limit(1);
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

export async function listEnrollments(db: Database, query: { journeyKey: string; status?: EnrollmentStatus; limit: number; cursor?: string }) {
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

/** An admin ends one enrollment by hand. */
export async function exitEnrollmentManually(db: Database, journeyKey: string, id: string): Promise<Enrollment> {
  const now = new Date();
  const [row] = await db
    .update(enrollments)
    .set({ status: "exited", exitReason: "manual", waitingFor: null, finishedAt: now, updatedAt: now })
    .where(and(eq(enrollments.id, id), eq(enrollments.journeyKey, journeyKey), inArray(enrollments.status, RUNNING)))
    .returning();
  if (row) return row;
  const existing = await getEnrollment(db, id);
  if (existing.journeyKey !== journeyKey) throw notFound("Enrollment");
  throw new AppError("CONFLICT", `Enrollment is already ${existing.status}`);
}
