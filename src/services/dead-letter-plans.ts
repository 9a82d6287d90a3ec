import { and, eq, inArray, isNull, like, notExists, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { BatchStatement, Database } from "../db/client";
import { backfillJobs, type DeadLetter, emails, enrollments, events, importJobs, webhookMessages } from "../db/schema";
import { AppError } from "../lib/errors";
import { type MessageOf, QUEUES, type QueueKey } from "../lib/queues";
import { DEAD_JOURNEY_START_ERROR, HEAL_DEAD_LETTER_QUEUE } from "./dead-letters";
import { assertResendable, resendRow } from "./email-resends";
import { getEmail } from "./emails";
import { reopenWebhookDelivery } from "./webhooks/deliveries";

export type RetryQueues = { [K in QueueKey]: Queue<MessageOf<K>> };
export type DeadLetterRetryDeps = { db: Database; bucket: R2Bucket; queues: RetryQueues };

/** What a retry put back to work, by the ids an admin can look up. */
export type Requeued = {
  emailId?: string;
  resentFromId?: string;
  importJobId?: string;
  backfillJobId?: string;
  enrollmentIds?: string[];
  eventIds?: string[];
  endpointId?: string;
  eventId?: string;
};

/**
 * A retry of one dead letter: the writes that reopen what it was about (committed in one batch with
 * the retry's mark and audit entry), then the message to send, given the batch's results.
 */
export type RetryPlan = {
  writes: BatchStatement[];
  send: (results: unknown[]) => Promise<Requeued>;
  /** A guard in `writes` that fails the batch on purpose (its D1 message), and the answer it means. */
  refusal?: { failure: string; error: AppError };
};

type Planner<K extends QueueKey> = (deps: DeadLetterRetryDeps, body: MessageOf<K>, now: Date) => Promise<RetryPlan>;

export const conflict = (message: string) => new AppError("CONFLICT", message);

/** A failed send is sent again as a new email (the resend path: suppression and topics are checked when it goes). */
const retryEmailSend: Planner<"emailSends"> = async ({ db, queues }, body, now) => {
  const original = await getEmail(db, body.emailId).catch((error) => {
    if (error instanceof AppError && error.code === "NOT_FOUND") {
      throw conflict(`Email ${body.emailId} no longer exists (erased, or its person was)`);
    }
    throw error;
  });
  assertResendable(original);
  const row = resendRow(original, now);
  return {
    writes: [db.insert(emails).values(row)],
    send: async () => {
      await queues.emailSends.send({ emailId: row.id! });
      return { emailId: row.id!, resentFromId: original.id };
    },
  };
};

/** A failed import resumes from its last committed checkpoint (the chunk ledger keeps it exactly-once). */
const retryImportChunk: Planner<"importChunks"> = async ({ db, bucket, queues }, body, now) => {
  const [job] = await db.select().from(importJobs).where(eq(importJobs.id, body.jobId));
  if (!job) throw conflict(`Import job ${body.jobId} no longer exists`);
  if (job.status !== "failed") throw conflict(`Import job ${job.id} is ${job.status}; only a failed import resumes`);
  if (!(await bucket.head(job.sourceKey))) {
    throw conflict(`The file of import job ${job.id} was deleted after the job ended; import the file again`);
  }
  // An erasure since the job was created refuses it (NOT NULL): its file may hold the person, and
  // erasure only waits for running imports. Checked in the reopen itself, so no erasure slips between.
  const erasedSinceCreated = sql`EXISTS (SELECT 1 FROM erasure_markers WHERE erased_at >= ${job.createdAt.getTime()})`;
  const status = job.options?.dryRun
    ? sql`'processing'`
    : sql`CASE WHEN NOT ${erasedSinceCreated} THEN 'processing' END`;
  const reopen = db
    .update(importJobs)
    .set({ status, error: null, finishedAt: null, recoveryAttempts: 0, updatedAt: now })
    .where(and(eq(importJobs.id, job.id), eq(importJobs.status, "failed")));
  return {
    writes: [reopen],
    send: async () => {
      await queues.importChunks.send({ jobId: job.id, offset: job.checkpointOffset });
      return { importJobId: job.id };
    },
    refusal: {
      failure: "NOT NULL constraint failed: import_jobs.status",
      error: conflict(
        `Someone was erased since import job ${job.id} was created, and its file may hold them: import the file again instead`,
      ),
    },
  };
};

/** A failed backfill or broadcast walks on from its cursor (the page ledger keeps each page once). */
const retryBackfillPage: Planner<"backfills"> = async ({ db, queues }, body, now) => {
  const [job] = await db.select().from(backfillJobs).where(eq(backfillJobs.id, body.jobId));
  if (!job) throw conflict(`Backfill job ${body.jobId} no longer exists`);
  if (job.status !== "failed") throw conflict(`Backfill job ${job.id} is ${job.status}; only a failed job resumes`);
  const reopen = db
    .update(backfillJobs)
    .set({ status: "processing", error: null, finishedAt: null, recoveryAttempts: 0, updatedAt: now })
    .where(and(eq(backfillJobs.id, job.id), eq(backfillJobs.status, "failed")));
  return {
    writes: [reopen],
    send: async () => {
      await queues.backfills.send({ jobId: job.id, cursor: job.cursor });
      return { backfillJobId: job.id };
    },
  };
};

/**
 * Enrollments the dead letter failed (their workflow never started) run again, unless their person
 * is meanwhile in the journey again (one running enrollment per person and journey).
 */
const retryJourneyStart: Planner<"journeyStarts"> = async ({ db, queues }, body, now) => {
  const running = alias(enrollments, "running");
  const reopen = db
    .update(enrollments)
    .set({ status: "active", error: null, finishedAt: null, updatedAt: now })
    .where(
      and(
        inArray(enrollments.id, body.enrollmentIds),
        eq(enrollments.status, "failed"),
        like(enrollments.error, `${DEAD_JOURNEY_START_ERROR}%`),
        notExists(
          db
            .select({ one: sql`1` })
            .from(running)
            .where(
              and(
                eq(running.journeyKey, enrollments.journeyKey),
                eq(running.userId, enrollments.userId),
                inArray(running.status, ["active", "waiting"]),
              ),
            ),
        ),
      ),
    )
    .returning({ id: enrollments.id });
  return {
    writes: [reopen],
    send: async (results) => {
      const enrollmentIds = (results.at(-1) as Array<{ id: string }>).map((row) => row.id);
      if (enrollmentIds.length) await queues.journeyStarts.send({ enrollmentIds });
      return { enrollmentIds };
    },
  };
};

/** Buffered events that were never stored go back to the ingest queue (stored ones are skipped by id). */
const retryIngestEvents: Planner<"ingestEvents"> = async ({ queues }, body) => {
  if (body.events.length === 0) throw conflict("No events are left to retry: their people were erased");
  return {
    writes: [],
    send: async () => {
      await queues.ingestEvents.send(body);
      return { eventIds: body.events.map((event) => event.id) };
    },
  };
};

/** A dead webhook delivery starts over at its first attempt. */
const retryWebhookDelivery: Planner<"webhookDeliveries"> = async ({ db, queues }, body, now) => {
  const [row] = await db
    .select({ eventId: webhookMessages.eventId })
    .from(webhookMessages)
    .where(and(eq(webhookMessages.endpointId, body.endpointId), eq(webhookMessages.eventId, body.eventId)));
  if (!row) throw conflict("The webhook delivery no longer exists (its endpoint was deleted, or it was pruned)");
  return {
    writes: [reopenWebhookDelivery(db, body, now)],
    send: async () => {
      await queues.webhookDeliveries.send(body);
      return { endpointId: body.endpointId, eventId: body.eventId };
    },
  };
};

const planners: { [K in QueueKey]: Planner<K> } = {
  emailSends: retryEmailSend,
  importChunks: retryImportChunk,
  backfills: retryBackfillPage,
  journeyStarts: retryJourneyStart,
  ingestEvents: retryIngestEvents,
  webhookDeliveries: retryWebhookDelivery,
};

/** An event self-healing gave up on gets its attempts back: the next cron run (every 2 minutes) routes it. */
async function retryHealedEvent(db: Database, body: unknown): Promise<RetryPlan> {
  const eventId = (body as { eventId?: unknown })?.eventId;
  if (typeof eventId !== "string") throw conflict("The dead letter names no event");
  const [event] = await db.select({ processedAt: events.processedAt }).from(events).where(eq(events.id, eventId));
  if (!event) throw conflict(`Event ${eventId} no longer exists`);
  if (event.processedAt) throw conflict(`Event ${eventId} has been processed since`);
  const reset = db
    .update(events)
    .set({ healAttempts: 0 })
    .where(and(eq(events.id, eventId), isNull(events.processedAt)));
  return { writes: [reset], send: async () => ({ eventId }) };
}

export function planFor(deps: DeadLetterRetryDeps, letter: DeadLetter, now: Date): Promise<RetryPlan> {
  if (letter.queue === HEAL_DEAD_LETTER_QUEUE) return retryHealedEvent(deps.db, letter.body);
  const key = (Object.keys(QUEUES) as QueueKey[]).find((k) => QUEUES[k].name === letter.queue);
  if (!key) throw conflict(`Dead letters of queue ${letter.queue} can't be retried`);
  const parsed = QUEUES[key].schema.safeParse(letter.body);
  if (!parsed.success) throw conflict("The message's body doesn't match its queue's schema, so it can't be retried");
  return (planners[key] as Planner<QueueKey>)(deps, parsed.data as MessageOf<QueueKey>, now);
}
