import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Email, emails } from "../db/schema";
import type { EmailSendMessage } from "../lib/queues";
import { ProviderError } from "../providers/email";
import { type DeliveryDeps, deliverEmail, getEmail } from "./emails";
import { MAX_QUEUE_DELAY_SECONDS } from "./transactional-emails";

/** The least a provider's 429 is waited out (Resend's limit is per second; its Retry-After says more). */
export const RATE_LIMIT_WAIT_SECONDS = 5;

/**
 * A provider still refusing an email this long after it was due is blocking, not pacing: the email
 * fails rather than wait forever (a resend sends it later). Long enough for a big broadcast sent
 * without `ratePerMinute` at a low provider limit (2 a second is 518,400 in 72 hours).
 */
export const RATE_LIMIT_GIVE_UP_MS = 72 * 3600_000;

async function failRateLimited(db: Database, email: Email): Promise<Email> {
  const now = new Date();
  const [row] = await db
    .update(emails)
    .set({
      status: "failed",
      failedAt: now,
      updatedAt: now,
      error: `The provider kept rate-limiting this email for ${RATE_LIMIT_GIVE_UP_MS / 3600_000} hours after it was due; resend it once the limit allows`,
    })
    .where(and(eq(emails.id, email.id), eq(emails.status, "queued")))
    .returning();
  return row ?? email;
}

/**
 * Sends a queued email when it is due: one whose `sendAt` is still ahead (a queue message waits
 * at most 12 hours) goes back to the queue for the rest of the wait, and so does one the provider
 * refused with a 429 (rate limited), after its Retry-After, for up to RATE_LIMIT_GIVE_UP_MS.
 */
export async function deliverWhenDue(deps: DeliveryDeps, emailSends: Queue<EmailSendMessage>, emailId: string) {
  const email = await getEmail(deps.db, emailId);
  const wait = email.status === "queued" && email.sendAt ? Math.ceil((email.sendAt.getTime() - Date.now()) / 1000) : 0;
  if (wait > 0) {
    await emailSends.send({ emailId }, { delaySeconds: Math.min(wait, MAX_QUEUE_DELAY_SECONDS) });
    return email;
  }
  try {
    return await deliverEmail(deps, emailId);
  } catch (error) {
    if (!(error instanceof ProviderError && error.status === 429)) throw error;
    const due = (email.sendAt ?? email.createdAt).getTime();
    if (Date.now() - due > RATE_LIMIT_GIVE_UP_MS) return failRateLimited(deps.db, email);
    // The provider's rate limit is a wait, not a failure: a fresh message after its Retry-After, so a
    // long limit (a big broadcast) never uses up the message's retries and dead-letters the email.
    const delaySeconds = Math.min(
      MAX_QUEUE_DELAY_SECONDS,
      Math.max(error.retryAfterSeconds ?? 0, RATE_LIMIT_WAIT_SECONDS),
    );
    await emailSends.send({ emailId }, { delaySeconds });
    return getEmail(deps.db, emailId);
  }
}
