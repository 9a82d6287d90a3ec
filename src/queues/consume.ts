import type { z } from "zod";
import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import { lastAttempt, retryDelaySeconds } from "../lib/queues";
import { recordMalformed } from "../services/dead-letters";

export type Consumer = (batch: MessageBatch<unknown>, deps: Deps) => Promise<void>;

/** A well-formed message: its body as its queue's schema parsed it. */
export type Delivery<Body> = { message: Message<unknown>; body: Body };
/** `delaySeconds`: when to retry, for a consumer with its own schedule (else the one backoff). */
export type Failure<Body> = { delivery: Delivery<Body>; error: unknown; delaySeconds?: number };

export type ConsumerSpec<Body> = {
  /** The queue's name, message schema and `max_retries` (src/lib/queues.ts). */
  queue: { name: string; schema: z.ZodType<Body>; maxRetries: number };
  /** Where a malformed body is recorded (GET /v1/admin/dead-letters?queue=): the queue's own name by default. */
  recordAs?: string;
  /** Works the batch's well-formed messages and answers those that failed; the rest are acked. */
  run: (deps: Deps, deliveries: Delivery<Body>[]) => Promise<Failure<Body>[]>;
  /** Settles a message whose last delivery failed, instead of letting it go to the dead-letter queue. */
  onLastAttempt?: (deps: Deps, body: Body, attempts: number, error: unknown) => Promise<void>;
  /** Ids (never personal data) that name what a failed message was about in its log line. */
  describe?: (body: Body) => Record<string, string | number>;
};

/** `run` for consumers that work one message at a time: one that throws failed. */
export function eachMessage<Body>(
  handle: (deps: Deps, body: Body, message: Message<unknown>) => Promise<void>,
): ConsumerSpec<Body>["run"] {
  return async function runEach(deps, deliveries) {
    const failures: Failure<Body>[] = [];
    for (const delivery of deliveries) {
      try {
        await handle(deps, delivery.body, delivery.message);
      } catch (error) {
        failures.push({ delivery, error });
      }
    }
    return failures;
  };
}

/**
 * The one queue contract: every body is parsed against its queue's schema; one that doesn't parse
 * is recorded as a dead letter and acked (retrying can't fix it). Well-formed messages are worked
 * by `run`; a failure is retried with the one backoff, and on its last delivery settled by
 * `onLastAttempt` when there is one (else the platform dead-letters it).
 */
export function queueConsumer<Body>(spec: ConsumerSpec<Body>): Consumer {
  const { queue } = spec;
  return async function consume(batch, deps) {
    const deliveries: Delivery<Body>[] = [];
    for (const message of batch.messages) {
      const parsed = queue.schema.safeParse(message.body);
      if (parsed.success) deliveries.push({ message, body: parsed.data });
      else await deadLetterMalformed(deps, spec.recordAs ?? queue.name, message, parsed.error);
    }
    const failures = await runGuarded(spec, deps, deliveries);
    const failed = new Set(failures.map((failure) => failure.delivery.message));
    for (const { message } of deliveries) if (!failed.has(message)) message.ack();
    for (const failure of failures) await settleFailure(spec, deps, failure);
  };
}

/** A `run` that throws fails every message it was given, rather than the invocation. */
async function runGuarded<Body>(spec: ConsumerSpec<Body>, deps: Deps, deliveries: Delivery<Body>[]) {
  if (deliveries.length === 0) return [];
  try {
    return await spec.run(deps, deliveries);
  } catch (error) {
    return deliveries.map((delivery) => ({ delivery, error }));
  }
}

async function settleFailure<Body>(
  spec: ConsumerSpec<Body>,
  deps: Deps,
  { delivery, error, delaySeconds }: Failure<Body>,
) {
  const { message, body } = delivery;
  const fields = { queue: spec.queue.name, messageId: message.id, attempt: message.attempts, ...spec.describe?.(body) };
  log.warn("queue message failed", { ...fields, ...errorFields(error) });
  if (spec.onLastAttempt && message.attempts >= lastAttempt(spec.queue.maxRetries)) {
    try {
      await spec.onLastAttempt(deps, body, message.attempts, error);
      message.ack();
      return;
    } catch (settleError) {
      log.error("queue message could not be settled", { ...fields, ...errorFields(settleError) });
    }
  }
  message.retry({ delaySeconds: delaySeconds ?? retryDelaySeconds(message.attempts) });
}

/**
 * A body its queue's schema refuses (a producer bug, or a message queued by an older version) is
 * recorded, with the schema's complaint, and acked. What it pointed at is not settled: a job whose
 * chain it broke is re-enqueued by self-healing from the job's own checkpoint.
 */
async function deadLetterMalformed(deps: Deps, queue: string, message: Message<unknown>, error: z.ZodError) {
  const issues = error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
    .join("; ");
  log.error("malformed queue message", { queue, messageId: message.id, issues });
  try {
    await recordMalformed(
      deps.db,
      { queue, messageId: message.id, body: message.body, attempts: message.attempts },
      issues,
    );
    message.ack();
  } catch (recordError) {
    log.error("malformed queue message could not be recorded", {
      queue,
      messageId: message.id,
      ...errorFields(recordError),
    });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
