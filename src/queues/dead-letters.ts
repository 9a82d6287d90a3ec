import { and, eq, inArray } from "drizzle-orm";
import { newId } from "../lib/ids";
import { createDb, type Database } from "../db/client";
import { deadLetters, emails, importJobs } from "../db/schema";
import { finishEnrollment } from "../services/enrollments";
import type { JourneyStartMessage } from "../journeys/starter";
import type { EmailSendMessage } from "./email-sends";

type Settled = { subject: string; error: string };

/** What giving up on a message means for the thing it was about; returns what to record. */
export type GiveUp = (db: Database, env: Env, body: unknown, attempts: number) => Promise<Settled>;

const exhausted = (attempts: number) => `Retries exhausted after ${attempts} attempts`;

const giveUpOnEmailSend: GiveUp = async (db, _env, body, attempts) => {
  const { emailId } = body as EmailSendMessage;
  const [email] = await db
    .update(emails)
    .set({ status: "failed", failedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(emails.id, emailId), eq(emails.status, "queued")))
    .returning();
  return { subject: `email:${emailId}`, error: `${exhausted(attempts)}${email?.error ? `: ${email.error}` : ""}` };
};

const giveUpOnJourneyStart: GiveUp = async (db, env, body, attempts) => {
  const { enrollmentIds } = body as JourneyStartMessage;
  const notStarted: string[] = [];
  for (const id of enrollmentIds) {
    try {
      await env.JOURNEY_WORKFLOW.get(id);
    } catch {
      notStarted.push(id); // no instance: the enrollment never started
    }
  }
  const error = `Workflow could not be started (${exhausted(attempts)})`;
  await Promise.all(notStarted.map((id) => finishEnrollment(db, id, { status: "failed", error })));
  return { subject: `enrollments:${enrollmentIds.join(",")}`, error };
};

const giveUpOnImportChunk: GiveUp = async (db, _env, body, attempts) => {
  const jobId = String((body as { jobId?: unknown })?.jobId ?? "");
  // Plain columns only: a job row that can't even be read must still end up failed.
  await db
    .update(importJobs)
    .set({ status: "failed", error: `Import chunk was dead-lettered (${exhausted(attempts)})`, finishedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(importJobs.id, jobId), inArray(importJobs.status, ["pending", "processing"])));
  return { subject: `import:${jobId}`, error: `Import chunk dead-lettered (${exhausted(attempts)})` };
};

export const giveUpByQueue: Record<string, GiveUp> = {
  "hogsend-import-chunks-dlq": giveUpOnImportChunk,
  "hogsend-email-sends-dlq": giveUpOnEmailSend,
  "hogsend-journey-starts-dlq": giveUpOnJourneyStart,
};

/** Dead-letter consumer: settles what the message was about and records it for GET /v1/admin/dead-letters. */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env.DB);
  const giveUp = giveUpByQueue[batch.queue];
  for (const message of batch.messages) {
    const settled = giveUp
      ? await giveUp(db, env, message.body, message.attempts)
      : { subject: null, error: exhausted(message.attempts) };
    await db
      .insert(deadLetters)
      .values({
        id: newId(),
        queue: batch.queue.replace(/-dlq$/, ""),
        messageId: message.id,
        body: message.body,
        attempts: message.attempts,
        subject: settled.subject,
        error: settled.error,
        createdAt: new Date(),
      })
      .onConflictDoNothing();
    message.ack();
  }
}
