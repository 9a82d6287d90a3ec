import { deliveryDepsFromEnv } from "../emails/deps";
import { deliverEmail } from "../services/emails";

export type EmailSendMessage = { emailId: string };

/** Sends queued emails (resends); retryable provider errors come back with backoff. */
export async function consumeEmailSends(batch: MessageBatch<EmailSendMessage>, env: Env): Promise<void> {
  const deps = deliveryDepsFromEnv(env);
  for (const message of batch.messages) {
    try {
      await deliverEmail(deps, message.body.emailId);
      message.ack();
    } catch (error) {
      console.warn(JSON.stringify({ level: "warn", queue: batch.queue, emailId: message.body.emailId, error: String(error) }));
      message.retry({ delaySeconds: Math.min(600, 2 ** message.attempts * 10) });
    }
  }
}
