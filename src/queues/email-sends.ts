import { QUEUES } from "../lib/queues";
import { deliverWhenDue } from "../services/due-sends";
import { eachMessage, queueConsumer } from "./consume";

/** Sends queued emails (POST /v1/emails, resends) when due; retryable provider errors come back with backoff. */
export const consumeEmailSends = queueConsumer({
  queue: QUEUES.emailSends,
  run: eachMessage(async (deps, body) => {
    await deliverWhenDue(deps.delivery, deps.emailResends.emailSends, body.emailId);
  }),
  describe: (body) => ({ emailId: body.emailId }),
});
