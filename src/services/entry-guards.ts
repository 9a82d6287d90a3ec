import { type SQL, sql } from "drizzle-orm";
import { type BatchPlan, plan } from "../db/batch-plan";
import type { Database } from "../db/client";
import { eventPending } from "../db/guarded";
import { personKey } from "../db/person-key";
import type { JourneyDefinition } from "../journeys/define";
import { durationMs } from "../journeys/duration";
import { chunk, roundsByKey } from "../lib/chunk";
import { newId } from "../lib/ids";

/** Entry guards in the order they are checked; the first that fails is the reason. */
export const SKIP_REASONS = [
  "journey_disabled",
  "trigger_not_matched",
  "no_email",
  "unsubscribed",
  "suppressed",
  "already_entered_once",
  "period_not_elapsed",
  "already_active",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type EntryCandidate = {
  userId: string;
  triggerEventId: string | null;
  triggerMatched: boolean;
  /**
   * Batch entries need an address: `true` when the caller gives one, `false` when the contact must
   * already have one in D1 (else `no_email`). Absent for event entries, which don't check.
   */
  givenEmail?: boolean;
  /**
   * `hashedAddress` of the address the caller knows for this entry (the event's, the row's): an
   * erased person's address is suppressed only hashed, which SQL can't compute from `contacts`.
   */
  emailHash?: string | null;
};
export type EntryDecision = { userId: string; triggerEventId: string | null } & (
  | { enrolled: true; enrollmentId: string }
  | { enrolled: false; reason: SkipReason }
);

const CANDIDATES_PER_STATEMENT = 12; // 7 bound params each, plus the journey's 12, under D1's 100

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
    chunk.map(
      (c) =>
        sql`(${c.idx}, ${c.enrollmentId}, ${c.userId}, ${c.triggerEventId}, ${c.triggerMatched ? 1 : 0}, ${c.givenEmail === undefined ? null : c.givenEmail ? 1 : 0}, ${c.emailHash ?? null})`,
    ),
    sql`, `,
  );
  // Candidates name whatever id they came with; the guards decide for the person it belongs to.
  return sql`WITH given(idx, enrollment_id, user_id, trigger_event_id, trigger_matched, given_email, email_hash) AS (VALUES ${values}),
  cand AS (SELECT idx, enrollment_id, ${personKey(sql`given.user_id`)} AS user_id, trigger_event_id, trigger_matched, given_email, email_hash FROM given),
  decided AS (
    SELECT cand.*, CASE
      WHEN coalesce((SELECT enabled FROM journey_settings WHERE journey_key = ${journey.key}), ${journey.enabled ? 1 : 0}) = 0 THEN 'journey_disabled'
      WHEN cand.trigger_matched = 0 THEN 'trigger_not_matched'
      WHEN cand.given_email = 0 AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.external_id = cand.user_id AND c.email IS NOT NULL) THEN 'no_email'
      WHEN EXISTS (SELECT 1 FROM contacts c WHERE c.external_id = cand.user_id AND c.unsubscribed_at IS NOT NULL) THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM contacts c JOIN suppressions s ON s.email = lower(trim(c.email)) WHERE c.external_id = cand.user_id AND s.reason = 'unsubscribed') THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.email = cand.email_hash AND s.reason = 'unsubscribed') THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM contacts c JOIN suppressions s ON s.email = lower(trim(c.email)) WHERE c.external_id = cand.user_id) THEN 'suppressed'
      WHEN EXISTS (SELECT 1 FROM suppressions s WHERE s.email = cand.email_hash) THEN 'suppressed'
      WHEN ${journey.entryLimit} = 'once' AND EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id) THEN 'already_entered_once'
      WHEN ${journey.entryLimit} = 'once_per_period' AND EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id AND e.enrolled_at > ${since}) THEN 'period_not_elapsed'
      WHEN EXISTS (SELECT 1 FROM enrollments e WHERE e.journey_key = ${journey.key} AND e.user_id = cand.user_id AND e.status IN ('active', 'waiting')) THEN 'already_active'
    END AS reason
    FROM cand
  )`;
}

type EntryOptions = {
  source: "event" | "batch";
  now?: Date;
  /**
   * A statement to run after each chunk's insert, in the same batch, given the chunk's `WITH …
   * decided` prefix: lets a caller count outcomes in SQL, atomically with the enrollments.
   */
  afterChunk?: (decided: SQL) => SQL;
  /** Enroll only while the trigger event is stored and unprocessed (ingest's one-round-trip batch). */
  onlyIfEventPending?: boolean;
};

/**
 * Candidates in statement-sized chunks. A user listed twice is decided in order (the second sees
 * the first's enrollment), because each occurrence goes into a later round of statements.
 */
function entryChunks(candidates: EntryCandidate[]): Chunk[] {
  const numbered = candidates.map((candidate, idx) => ({ ...candidate, idx, enrollmentId: newId() }));
  return roundsByKey(numbered, (c) => c.userId).flatMap((round) => chunk(round, CANDIDATES_PER_STATEMENT));
}

function reasonsStatement(db: Database, journey: JourneyDefinition, candidates: Chunk, now: Date) {
  return db.all<{ idx: number; reason: SkipReason | null }>(
    sql`${decidedCte(journey, candidates, now)} SELECT idx, reason FROM decided`,
  );
}

type Resolved = { source: EntryOptions["source"]; now: Date; onlyIfEventPending: boolean };

function enrollStatement(db: Database, journey: JourneyDefinition, candidates: Chunk, options: Resolved) {
  const at = options.now.getTime();
  const guard = options.onlyIfEventPending
    ? sql`AND (trigger_event_id IS NULL OR ${eventPending(sql.raw("decided.trigger_event_id"))})`
    : sql``;
  return db.all<{ id: string }>(sql`${decidedCte(journey, candidates, options.now)}
    INSERT INTO enrollments (id, journey_key, user_id, status, trigger_event_id, source, enrolled_at, updated_at)
    SELECT enrollment_id, ${journey.key}, user_id, 'active', trigger_event_id, ${options.source}, ${at}, ${at}
    FROM decided WHERE reason IS NULL ${guard}
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
  const resolved = {
    source: options.source,
    now: options.now ?? new Date(),
    onlyIfEventPending: options.onlyIfEventPending ?? false,
  };
  const chunks = entryChunks(candidates);
  const after = options.afterChunk;
  const statements = chunks.flatMap((c) => [
    reasonsStatement(db, journey, c, resolved.now),
    enrollStatement(db, journey, c, resolved),
    ...(after ? [db.all(after(decidedCte(journey, c, resolved.now)))] : []),
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
