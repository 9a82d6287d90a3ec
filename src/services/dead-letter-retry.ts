import { eq, sql } from "drizzle-orm";
import { type Database, failedWith, runBatch } from "../db/client";
import { deadLetters } from "../db/schema";
import { notFound } from "../lib/errors";
import { type AuditDraft, auditStatements } from "./audit-log";
import { conflict, type DeadLetterRetryDeps, planFor } from "./dead-letter-plans";

export type { DeadLetterRetryDeps, RetryQueues } from "./dead-letter-plans";

/**
 * The mark, first in the retry's batch: a second retry of the same letter (even a concurrent one)
 * fails on NOT NULL here, which rolls its whole batch back.
 */
const ALREADY_RETRIED = "NOT NULL constraint failed: dead_letters.attempts";
const markRetried = (db: Database, id: string, now: Date) =>
  db
    .update(deadLetters)
    .set({
      retriedAt: now,
      attempts: sql`CASE WHEN ${deadLetters.retriedAt} IS NULL THEN ${deadLetters.attempts} END`,
    })
    .where(eq(deadLetters.id, id));

/**
 * Puts what a dead letter was about back to work, once: a failed email is resent, a failed import
 * or backfill resumes from its checkpoint, unstarted enrollments start, buffered events are
 * ingested, a dead webhook delivery starts over, an event self-healing gave up on is routed again.
 * 409 when there's nothing left to retry (already retried, the job no longer failed, erased).
 */
export async function retryDeadLetter(
  deps: DeadLetterRetryDeps,
  id: string,
  options: { audit?: AuditDraft; now?: Date } = {},
) {
  const now = options.now ?? new Date();
  const [letter] = await deps.db.select().from(deadLetters).where(eq(deadLetters.id, id));
  if (!letter) throw notFound("Dead letter");
  const retried = () => conflict(`Dead letter ${id} was already retried`);
  if (letter.retriedAt) throw retried();
  const plan = await planFor(deps, letter, now);
  const audit = auditStatements(deps.db, options.audit, { targetIds: [id] });
  let results: unknown[];
  try {
    results = await runBatch(deps.db, [markRetried(deps.db, id, now), ...audit, ...plan.writes]);
  } catch (error) {
    if (failedWith(error, ALREADY_RETRIED)) throw retried();
    if (plan.refusal && failedWith(error, plan.refusal.failure)) throw plan.refusal.error;
    throw error;
  }
  const requeued = await plan.send(results);
  return { id, queue: letter.queue, subject: letter.subject, retriedAt: now, requeued };
}
