import { QUEUES } from "../lib/queues";
import { deliverEmail } from "../services/emails";
import { eachMessage, queueConsumer } from "./consume";

/** Sends queued emails (resends); retryable provider errors come back with backoff. */
export const consumeEmailSends = queueConsumer({
  queue: QUEUES.emailSends,
  run: eachMessage(async (deps, body) => {
    await deliverEmail(deps.delivery, body.emailId);
  }),
  describe: (body) => ({ emailId: body.emailId }),
});
