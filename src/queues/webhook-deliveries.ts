import { QUEUES, type WebhookDeliveryMessage } from "../lib/queues";
import { deliverWebhook } from "../services/webhooks/deliver";
import { type Failure, queueConsumer } from "./consume";

/**
 * Outbound webhooks: the batch's deliveries go out concurrently, each bounded by its timeout, so
 * one slow endpoint holds up only this consumer. A failure with retries left comes back when the
 * webhook schedule says (recorded in D1); the last one is dead-lettered in D1 and acked.
 */
export const consumeWebhookDeliveries = queueConsumer<WebhookDeliveryMessage>({
  queue: QUEUES.webhookDeliveries,
  run: async (deps, deliveries) => {
    const failures = await Promise.all(
      deliveries.map(async (delivery): Promise<Failure<WebhookDeliveryMessage> | null> => {
        try {
          const { retryInSeconds } = await deliverWebhook(deps.webhookDelivery, delivery.body);
          if (retryInSeconds === null) return null;
          return { delivery, error: new Error("webhook endpoint failed"), delaySeconds: retryInSeconds };
        } catch (error) {
          return { delivery, error };
        }
      }),
    );
    return failures.filter((failure) => failure !== null);
  },
  describe: (body) => ({ endpointId: body.endpointId, eventId: body.eventId }),
});
