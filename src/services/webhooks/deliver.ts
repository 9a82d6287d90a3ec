import { and, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { type Database, runBatch } from "../../db/client";
import {
  type WebhookEndpointRow,
  type WebhookMessageRow,
  webhookAttempts,
  webhookEndpoints,
  webhookMessages,
} from "../../db/schema";
import { newId } from "../../lib/ids";
import { type UrlPolicy, webhookUrlProblem } from "../../lib/webhook-url";
import { signingSecrets } from "./endpoints";

/**
 * Seconds to wait after attempt 1, 2, …: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's
 * schedule); the 8th attempt comes about 27.6 h after the first, and its failure dead-letters.
 * Each wait is under a queue retry's 12 h cap.
 */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];
export const DEFAULT_TIMEOUT_MS = 10_000;
/** A lease outlives the attempt's timeout: a consumer that died mid-attempt frees the row after it. */
const LEASE_MARGIN_MS = 30_000;
/** A queue may deliver a retry a little before the time D1 noted (clocks differ). */
const EARLY_MS = 2_000;

export type WebhookDeliveryDeps = {
  db: Database;
  fetch: typeof fetch;
  policy: UrlPolicy;
  /** Seconds before each retry (WEBHOOK_RETRY_SCHEDULE); its length is the number of retries. */
  retrySchedule: number[];
  timeoutMs: number;
};

export type DeliveryKey = { endpointId: string; eventId: string };
/** Null: nothing more to do (delivered, dead-lettered, or not this message's turn). */
export type DeliveryOutcome = { retryInSeconds: number | null };

type AttemptResult = { statusCode: number | null; error: string | null; permanent?: boolean };

/** The body every endpoint receives (Standard Webhooks' recommended shape). */
export const webhookBody = (message: Pick<WebhookMessageRow, "type" | "createdAt" | "payload">) =>
  `{"type":${JSON.stringify(message.type)},"timestamp":${JSON.stringify(message.createdAt.toISOString())},"data":${message.payload}}`;

async function post(deps: WebhookDeliveryDeps, endpoint: WebhookEndpointRow, message: WebhookMessageRow, now: number) {
  const body = webhookBody(message);
  const signature = signingSecrets(endpoint, now)
    .map((secret) => new Webhook(secret).sign(message.eventId, new Date(now), body))
    .join(" ");
  try {
    const response = await deps.fetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Hogsend-Webhooks/1",
        "webhook-id": message.eventId,
        "webhook-timestamp": String(Math.floor(now / 1000)),
        "webhook-signature": signature,
      },
      body,
      // A redirect is a failure: following it could lead to an address the URL check never saw.
      redirect: "manual",
      signal: AbortSignal.timeout(deps.timeoutMs),
    });
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 300;
    return { statusCode: response.status, error: ok ? null : `HTTP ${response.status}` };
  } catch (error) {
    const name = (error as Error).name;
    const timedOut = name === "TimeoutError" || name === "AbortError";
    return {
      statusCode: null,
      error: timedOut ? `timed out after ${deps.timeoutMs} ms` : String((error as Error).message),
    };
  }
}

async function attempt(
  deps: WebhookDeliveryDeps,
  endpoint: WebhookEndpointRow | undefined,
  message: WebhookMessageRow,
  now: number,
): Promise<AttemptResult> {
  if (!endpoint?.enabled) return { statusCode: null, error: "endpoint disabled", permanent: true };
  const problem = webhookUrlProblem(endpoint.url, deps.policy);
  if (problem) return { statusCode: null, error: `refused: ${problem}`, permanent: true };
  return post(deps, endpoint, message, now);
}

/**
 * One attempt at one outbox row. The row is claimed first (a lease, in D1): a redelivered or
 * duplicate queue message finds it delivered, dead or held and sends nothing. The attempt and the
 * row's new state are written together; a failure with retries left answers when to try again.
 */
export async function deliverWebhook(
  deps: WebhookDeliveryDeps,
  key: DeliveryKey,
  now = Date.now(),
): Promise<DeliveryOutcome> {
  const { db } = deps;
  const lease = new Date(now + deps.timeoutMs + LEASE_MARGIN_MS);
  const thisRow = and(eq(webhookMessages.endpointId, key.endpointId), eq(webhookMessages.eventId, key.eventId));
  const [claimed, endpoints] = (await runBatch(db, [
    db
      .update(webhookMessages)
      .set({ leaseUntil: lease, attempts: sql`${webhookMessages.attempts} + 1` })
      .where(
        and(
          thisRow,
          eq(webhookMessages.status, "pending"),
          or(isNull(webhookMessages.leaseUntil), lt(webhookMessages.leaseUntil, new Date(now))),
          lte(webhookMessages.nextAttemptAt, new Date(now + EARLY_MS)),
        ),
      )
      .returning(),
    db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, key.endpointId)).limit(1),
  ])) as [WebhookMessageRow[], WebhookEndpointRow[]];
  const message = claimed[0];
  if (!message) return { retryInSeconds: null };

  const started = Date.now();
  const result = await attempt(deps, endpoints[0], message, now);
  const finished = Date.now();
  const delivered = result.error === null;
  const retryIn = delivered || result.permanent ? null : (deps.retrySchedule[message.attempts - 1] ?? null);
  const status = delivered ? "delivered" : retryIn === null ? "dead" : "pending";
  await runBatch(db, [
    db.insert(webhookAttempts).values({
      id: newId(),
      endpointId: key.endpointId,
      eventId: key.eventId,
      attempt: message.attempts,
      at: new Date(now),
      durationMs: finished - started,
      statusCode: result.statusCode,
      error: result.error,
    }),
    db
      .update(webhookMessages)
      .set({
        status,
        leaseUntil: null,
        nextAttemptAt: new Date(finished + (retryIn ?? 0) * 1000),
        deliveredAt: delivered ? new Date(finished) : null,
      })
      .where(and(thisRow, eq(webhookMessages.leaseUntil, lease))),
  ]);
  return { retryInSeconds: retryIn };
}
