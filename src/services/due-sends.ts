import type { EmailSendMessage } from "../lib/queues";
import { type DeliveryDeps, deliverEmail, getEmail } from "./emails";
import { MAX_QUEUE_DELAY_SECONDS } from "./transactional-emails";

/**
 * Sends a queued email when it is due: one whose `sendAt` is still ahead (a queue message waits
 * at most 12 hours) goes back to the queue for the rest of the wait.
 */
export async function deliverWhenDue(deps: DeliveryDeps, emailSends: Queue<EmailSendMessage>, emailId: string) {
  const email = await getEmail(deps.db, emailId);
  const wait = email.status === "queued" && email.sendAt ? Math.ceil((email.sendAt.getTime() - Date.now()) / 1000) : 0;
  if (wait > 0) {
    await emailSends.send({ emailId }, { delaySeconds: Math.min(wait, MAX_QUEUE_DELAY_SECONDS) });
    return email;
  }
  return deliverEmail(deps, emailId);
}
