import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../src/index";

/** A buffered ingest event of `userId`, as the ingest queue carries it (never stored yet). */
export const bufferedEvent = (userId: string) => ({
  id: crypto.randomUUID(),
  event: "user:signed_up",
  userId,
  userEmail: null,
  properties: {},
  idempotencyKey: null,
  occurredAt: Date.now(),
  receivedAt: Date.now(),
});

export type DeliveredMessage = { body: unknown; id?: string; attempts?: number };

/**
 * Delivers messages to the Worker's real queue handler as the platform would (one batch from
 * `queue`), and answers what the handler acked and retried.
 */
export async function deliver(queue: string, messages: DeliveredMessage[]) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({
      id: m.id ?? crypto.randomUUID(),
      timestamp: new Date(),
      attempts: m.attempts ?? 1,
      body: m.body,
    })),
  );
  // The test runtime's queue result leaves out retry delays: the handler's are noted on the way.
  const delays: Record<string, number | undefined> = {};
  const observed = batch.messages.map(
    (message): Message<unknown> => ({
      id: message.id,
      timestamp: message.timestamp,
      body: message.body,
      attempts: message.attempts,
      ack: () => message.ack(),
      retry: (options) => {
        delays[message.id] = options?.delaySeconds;
        message.retry(options);
      },
    }),
  );
  const ctx = createExecutionContext();
  await worker.queue(
    {
      queue: batch.queue,
      metadata: batch.metadata,
      messages: observed,
      ackAll: () => batch.ackAll(),
      retryAll: (options) => batch.retryAll(options),
    },
    env,
  );
  return { ...(await getQueueResult(batch, ctx)), delays };
}

/** Runs the cron trigger (self-healing) once and waits for everything it started. */
export async function runCron() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/2 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}
