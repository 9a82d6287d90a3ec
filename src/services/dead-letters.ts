import { and, desc, eq, inArray, isNotNull, lt, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { backfillJobs, deadLetters, emails, events, importJobs } from "../db/schema";
import { newId } from "../lib/ids";
import type { KeyedHash } from "../lib/keyed-hash";
import type { IngestEventsMessage } from "../lib/queues";
import { chunkForParams, keysetPage } from "../lib/sql";
import { finishEnrollment } from "./enrollments";
import { erasedSince, erasureKeys } from "./erasure-markers";
import type { JourneyParams } from "./workflow-instances";

/**
 * What a dead message was about, and why it died: recorded for GET /v1/admin/dead-letters.
 * `eventErasureKeys` (a body of buffered events: each event's `erasureKeys` hash, in order) makes
 * the record leave out the events of people erased since they were received.
 */
export type Settled = { subject: string | null; error: string; eventErasureKeys?: string[] };

/** Where self-healing's dead letters are listed (`?queue=` on the admin list): events it could not route. */
export const HEAL_DEAD_LETTER_QUEUE = "self-healing";

export const exhausted = (attempts: number) => `Retries exhausted after ${attempts} attempts`;

/** A send that never got through: the email is `failed` (when still queued), with its last error. */
export async function settleDeadEmailSend(db: Database, emailId: string, attempts: number): Promise<Settled> {
  const now = new Date();
  const [email] = await db
    .update(emails)
    .set({ status: "failed", failedAt: now, updatedAt: now })
    .where(and(eq(emails.id, emailId), eq(emails.status, "queued")))
    .returning();
  return { subject: `email:${emailId}`, error: `${exhausted(attempts)}${email?.error ? `: ${email.error}` : ""}` };
}

/** How an enrollment failed by a dead journey start begins its error (a retry finds them by it). */
export const DEAD_JOURNEY_START_ERROR = "Workflow could not be started";

/** Workflows that never started: their enrollments end `failed` (started ones keep running). */
export async function settleDeadJourneyStart(
  deps: { db: Database; workflow: Workflow<JourneyParams> },
  enrollmentIds: string[],
  attempts: number,
): Promise<Settled> {
  const notStarted: string[] = [];
  for (const id of enrollmentIds) {
    try {
      await deps.workflow.get(id);
    } catch {
      notStarted.push(id); // no instance: the enrollment never started
    }
  }
  const error = `${DEAD_JOURNEY_START_ERROR} (${exhausted(attempts)})`;
  await Promise.all(notStarted.map((id) => finishEnrollment(deps.db, id, { status: "failed", error })));
  return { subject: `enrollments:${enrollmentIds.join(",")}`, error };
}

/** An import chunk that kept failing: the job ends `failed` instead of hanging in `processing`. */
export async function settleDeadImportChunk(db: Database, jobId: string, attempts: number): Promise<Settled> {
  const now = new Date();
  // Plain columns only: a job row that can't even be read must still end up failed.
  await db
    .update(importJobs)
    .set({
      status: "failed",
      error: `Import chunk was dead-lettered (${exhausted(attempts)})`,
      finishedAt: now,
      updatedAt: now,
    })
    .where(and(eq(importJobs.id, jobId), inArray(importJobs.status, ["pending", "processing"])));
  return { subject: `import:${jobId}`, error: `Import chunk dead-lettered (${exhausted(attempts)})` };
}

/** A backfill page that kept failing: the job ends `failed` with its counts as committed. */
export async function settleDeadBackfillPage(db: Database, jobId: string, attempts: number): Promise<Settled> {
  const now = new Date();
  const error = `Backfill page was dead-lettered (${exhausted(attempts)})`;
  await db
    .update(backfillJobs)
    .set({ status: "failed", error, finishedAt: now, updatedAt: now })
    .where(and(eq(backfillJobs.id, jobId), inArray(backfillJobs.status, ["pending", "processing"])));
  return { subject: `backfill:${jobId}`, error };
}

/**
 * Buffered events that were never written: the dead letter keeps them (its body) for an admin to
 * re-send; events of the message that did get stored are named so nobody sends them twice. Events
 * of a person erased since they were received are left out of the kept body.
 */
export async function settleDeadIngestEvents(
  { db, hash }: { db: Database; hash: KeyedHash },
  message: Partial<IngestEventsMessage>,
): Promise<Settled> {
  const buffered = message?.events ?? [];
  const keys = await erasureKeys(
    hash,
    buffered.map((event) => event.userId),
  );
  const ids = buffered.map((event) => event.id);
  const stored = new Set<string>();
  for (const chunk of chunkForParams(ids, 1, 99)) {
    const rows = await db.select({ id: events.id }).from(events).where(inArray(events.id, chunk));
    for (const row of rows) stored.add(row.id);
  }
  const lost = ids.filter((id) => !stored.has(id));
  return {
    subject: `events:${lost.length} not stored of ${ids.length}`,
    error: `Buffered events could not be written; not stored: ${lost.join(",") || "none"}`,
    eventErasureKeys: buffered.map((event) => keys.get(event.userId)!),
  };
}

export type DeadMessage = { queue: string; messageId: string; body: unknown; attempts: number };

/** Records a dead message once (a redelivered dead letter is recorded once). */
export async function recordDeadLetter(db: Database, message: DeadMessage, settled: Settled): Promise<void> {
  const keys = settled.eventErasureKeys;
  await db
    .insert(deadLetters)
    .values({
      id: newId(),
      ...message,
      // A JSON null is the text 'null': drizzle would bind a null body as SQL NULL.
      body: keys ? withoutErasedEvents(message.body, keys) : (message.body ?? sql`'null'`),
      subject: settled.subject,
      error: settled.error,
      createdAt: new Date(),
    })
    // A redelivered dead letter is recorded once; one that was retried and died again (self-healing
    // names its letters by event id) is shown again, not retried, with its new error.
    .onConflictDoUpdate({
      target: [deadLetters.queue, deadLetters.messageId],
      set: { retriedAt: null, error: settled.error, attempts: message.attempts, createdAt: new Date() },
      setWhere: isNotNull(deadLetters.retriedAt),
    });
}

/**
 * The body with its events of erased people left out, decided in the inserting statement: an
 * erasure either comes first (and this leaves them out) or comes after (and its scrub finds the row).
 */
function withoutErasedEvents(body: unknown, keys: string[]): SQL {
  const json = JSON.stringify(body);
  const erased = erasedSince(sql`k.value`, sql`json_extract(e.value, '$.receivedAt')`);
  return sql`json_set(${json}, '$.events', (SELECT json_group_array(json(e.value))
    FROM json_each(${json}, '$.events') e JOIN json_each(${JSON.stringify(keys)}) k ON k.key = e.key
    WHERE NOT ${erased}))`;
}

/** A body its queue's schema refused: recorded as it came, with the schema's complaint, and settles nothing. */
export async function recordMalformed(db: Database, message: DeadMessage, issues: string): Promise<void> {
  await recordDeadLetter(db, message, { subject: null, error: `Malformed message body: ${issues}` });
}

/** Newest first, keyset-paged. */
export async function listDeadLetters(db: Database, query: { queue?: string; limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(deadLetters)
    .where(
      and(
        query.queue ? eq(deadLetters.queue, query.queue) : undefined,
        query.cursor ? lt(deadLetters.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(deadLetters.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { deadLetters: page, nextCursor };
}
