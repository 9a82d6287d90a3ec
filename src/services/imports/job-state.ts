import { and, eq, exists, gte, inArray, sql } from "drizzle-orm";
import { plan, runPlans } from "../../db/batch-plan";
import { type Database, runBatch } from "../../db/client";
import { type ImportJob, importChunks, importJobs } from "../../db/schema";
import type { WebhookDeliveryMessage } from "../../lib/queues";
import { importEvent } from "../webhooks/events";
import { enqueueWebhookDeliveries, webhookOutboxStatement } from "../webhooks/outbox";
import { forgetSeenIds, type ImportDeps } from "./jobs";

export async function loadJob(db: Database, jobId: string) {
  const [job] = await db.select().from(importJobs).where(eq(importJobs.id, jobId));
  return job;
}

/** The job as it stands, a pending one moved to processing first: one D1 round trip. */
export async function startOrLoadJob(db: Database, jobId: string, now: Date): Promise<ImportJob | undefined> {
  const start = db
    .update(importJobs)
    .set({ status: "processing", startedAt: now, updatedAt: now })
    .where(and(eq(importJobs.id, jobId), eq(importJobs.status, "pending")));
  const load = db.select().from(importJobs).where(eq(importJobs.id, jobId));
  const [job] = await runPlans(
    db,
    plan([start, load], (results) => (results[1] as ImportJob[])[0]),
  );
  return job;
}

/** A job-level failure (unreadable file, bad header, malformed JSON): the job stops with the message. */
export async function failJob(
  db: Database,
  job: ImportJob,
  error: string,
  now = new Date(),
  webhookQueue?: Queue<WebhookDeliveryMessage>,
): Promise<"failed"> {
  const failed = importEvent(job, "failed", now);
  const [, made] = await runBatch(db, [
    db
      .update(importJobs)
      .set({ status: "failed", error, finishedAt: now, updatedAt: now })
      .where(and(eq(importJobs.id, job.id), inArray(importJobs.status, ["pending", "processing"]))),
    webhookOutboxStatement(db, failed.event, failed.when),
  ]);
  await enqueueWebhookDeliveries(webhookQueue, [made]);
  await forgetSeenIds(db, job.id);
  return "failed";
}

/** The last delivery of a chunk failed too: the job stops where it is, with the chunk's error. */
export async function failJobAfterRetries(
  db: Database,
  jobId: string,
  attempts: number,
  error: unknown,
  webhookQueue?: Queue<WebhookDeliveryMessage>,
) {
  const job = await loadJob(db, jobId);
  if (!job) return;
  await failJob(
    db,
    job,
    `Import stopped after ${attempts} failed attempts at data row ${job.checkpointRow}: ${String(error)}`,
    new Date(),
    webhookQueue,
  );
}

export async function sendFollowUp(deps: ImportDeps, jobId: string, start: number, next: number) {
  await deps.queue.send({ jobId, offset: next });
  await deps.db
    .update(importChunks)
    .set({ followUpSent: true })
    .where(and(eq(importChunks.jobId, jobId), eq(importChunks.startOffset, start)));
}

/**
 * A retried message whose invocation committed chunks but died before queueing the next message
 * (its chunks' follow-ups are all unsent, the last one ends at the job's checkpoint): send it now,
 * or the job would stall here until self-healing. A duplicate of a message whose chain was handed
 * on finds its chunk's follow-up sent and does nothing.
 */
export async function resendLostFollowUp(deps: ImportDeps, job: ImportJob, offset: number) {
  const unsent = and(eq(importChunks.jobId, job.id), eq(importChunks.followUpSent, false));
  const own = deps.db
    .select({ one: sql`1` })
    .from(importChunks)
    .where(and(unsent, eq(importChunks.startOffset, offset)));
  const [latest] = await deps.db
    .select({ startOffset: importChunks.startOffset })
    .from(importChunks)
    .where(
      and(unsent, eq(importChunks.endOffset, job.checkpointOffset), gte(importChunks.startOffset, offset), exists(own)),
    );
  if (latest) await sendFollowUp(deps, job.id, latest.startOffset, job.checkpointOffset);
}
