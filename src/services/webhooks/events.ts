import { sql } from "drizzle-orm";
import type { Email } from "../../db/schema";
import type { WebhookEventData } from "./outbox";

/**
 * The `data` of every `email.*` event: the email's ids and status, never its address, subject or
 * props. `userId` is your own user id (the contact's externalId), so a receiver can join on it;
 * null for a contact keyed by its address (`POST /v1/emails` with `to`), whose id is that address.
 */
export const emailEventData = (
  email: Pick<Email, "id" | "userId" | "templateKey" | "journeyKey" | "enrollmentId">,
  status: string,
  extra: WebhookEventData = {},
): WebhookEventData => ({
  emailId: email.id,
  userId: email.userId.includes("@") ? null : email.userId,
  status,
  templateKey: email.templateKey,
  journeyKey: email.journeyKey,
  enrollmentId: email.enrollmentId,
  ...extra,
});

/** `contact.unsubscribed`, read inside the batch (before the flag is set), only when it is one. */
export function unsubscribedEvent(contactId: string, source: string) {
  return {
    event: {
      type: "contact.unsubscribed" as const,
      data: sql`(SELECT json_object('contactId', id, 'userId', external_id, 'source', ${source}) FROM contacts WHERE id = ${contactId})`,
      userId: sql`(SELECT external_id FROM contacts WHERE id = ${contactId})`,
    },
    when: sql`EXISTS (SELECT 1 FROM contacts WHERE id = ${contactId} AND unsubscribed_at IS NULL)`,
  };
}

/**
 * `contact.erased`: the ids a receiver needs to erase the person too, nothing else. In the batch
 * that deletes the contact, before the delete; the person's other deliveries go in that batch.
 */
export function erasedEvent(contactId: string, userId: string) {
  return {
    event: { type: "contact.erased" as const, data: { contactId, userId } },
    when: sql`EXISTS (SELECT 1 FROM contacts WHERE id = ${contactId})`,
  };
}

/** A person's deliveries other than their erasure notice: erased with them, delivered or not. */
export const erasedDeliveries = (userId: string) =>
  sql`DELETE FROM webhook_messages WHERE user_id = ${userId} AND type != 'contact.erased'`;

type JobCounts = { id: string; totalRows: number | null; processedRows: number; failedRows: number };

/** `import.completed` / `import.failed`: the job's id and counts, when the job row now has that status at `at`. */
export function importEvent(
  job: JobCounts & { options?: { dryRun?: boolean } | null },
  status: "completed" | "failed",
  at: Date,
) {
  const { id, totalRows, processedRows, failedRows } = job;
  return {
    event: {
      type: `import.${status}` as const,
      data: { jobId: id, status, totalRows, processedRows, failedRows, dryRun: job.options?.dryRun === true },
    },
    when: sql`EXISTS (SELECT 1 FROM import_jobs WHERE id = ${id} AND status = ${status} AND updated_at = ${at.getTime()})`,
  };
}

/** `backfill.completed`: written with the page that completes the job (the cron's sweep sends it). */
export function backfillCompletedEvent(job: { id: string; journeyKey: string; dryRun: boolean }, at: Date) {
  return {
    event: {
      type: "backfill.completed" as const,
      data: sql`(SELECT json_object('jobId', id, 'journeyKey', journey_key, 'status', status, 'matched', matched, 'dryRun', json(CASE WHEN dry_run THEN 'true' ELSE 'false' END)) FROM backfill_jobs WHERE id = ${job.id})`,
    },
    when: sql`EXISTS (SELECT 1 FROM backfill_jobs WHERE id = ${job.id} AND status = 'completed' AND updated_at = ${at.getTime()})`,
  };
}
