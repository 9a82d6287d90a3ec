import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import type { EmailSendMessage } from "../lib/queues";
import { deliverEmail } from "../services/emails";

/** Sends queued emails (resends); retryable provider errors come back with backoff. */
export async function consumeEmailSends(batch: MessageBatch<EmailSendMessage>, deps: Deps): Promise<void> {
  for (const message of batch.messages) {
    try {
      await deliverEmail(deps.delivery, message.body.emailId);
      message.ack();
    } catch (error) {
      log.warn("email send failed", { queue: batch.queue, emailId: message.body.emailId, ...errorFields(error) });
      message.retry({ delaySeconds: Math.min(600, 2 ** message.attempts * 10) });
    }
  }
}
