import type { EmailSendMessage } from "../lib/queues";
import { ProviderError } from "../providers/email";
import { type DeliveryDeps, deliverEmail, getEmail } from "./emails";
import { MAX_QUEUE_DELAY_SECONDS } from "./transactional-emails";

/** The least a provider's 429 is waited out (Resend's limit is per second; its Retry-After says more). */
export const RATE_LIMIT_WAIT_SECONDS = 5;

/**
 * Sends a queued email when it is due: one whose `sendAt` is still ahead (a queue message waits
 * at most 12 hours) goes back to the queue for the rest of the wait, and so does one the provider
 * refused with a 429 (rate limited), after its Retry-After.
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
