import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../src/index";

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
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

/** Runs the cron trigger (self-healing) once and waits for everything it started. */
export async function runCron() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/2 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}
