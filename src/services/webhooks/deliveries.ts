import { and, asc, desc, eq, inArray, isNull, lt, lte, or } from "drizzle-orm";
import type { Database } from "../../db/client";
import {
  type WebhookAttemptRow,
  type WebhookDeliveryStatus,
  type WebhookEventType,
  type WebhookMessageRow,
  webhookAttempts,
  webhookMessages,
} from "../../db/schema";
import { notFound } from "../../lib/errors";
import { sendAll, type WebhookDeliveryMessage } from "../../lib/queues";
import { getWebhookEndpoint } from "./endpoints";

export type WebhookDeliveryView = {
  id: string;
  type: WebhookEventType;
  status: WebhookDeliveryStatus;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  data: Record<string, unknown>;
  attemptLog: Array<Pick<WebhookAttemptRow, "attempt" | "at" | "durationMs" | "statusCode" | "error">>;
};

function view(row: WebhookMessageRow, attempts: WebhookAttemptRow[]): WebhookDeliveryView {
  return {
    id: row.eventId,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    createdAt: row.createdAt,
    nextAttemptAt: row.status === "pending" ? row.nextAttemptAt : null,
    deliveredAt: row.deliveredAt,
    data: JSON.parse(row.payload) as Record<string, unknown>,
    attemptLog: attempts.map(({ attempt, at, durationMs, statusCode, error }) => ({
      attempt,
      at,
      durationMs,
      statusCode,
      error,
    })),
  };
}

export type DeliveryListQuery = { status?: WebhookDeliveryStatus; limit: number; cursor?: string };

/** One endpoint's deliveries, newest first (keyset on the event id), each with its attempts. */
export async function listWebhookDeliveries(db: Database, endpointId: string, query: DeliveryListQuery) {
  await getWebhookEndpoint(db, endpointId);
  const rows = await db
    .select()
    .from(webhookMessages)
    .where(
      and(
        eq(webhookMessages.endpointId, endpointId),
        query.status ? eq(webhookMessages.status, query.status) : undefined,
        query.cursor ? lt(webhookMessages.eventId, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(webhookMessages.eventId))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const attempts = page.length
    ? await db
        .select()
        .from(webhookAttempts)
        .where(
          and(
            eq(webhookAttempts.endpointId, endpointId),
            inArray(
              webhookAttempts.eventId,
              page.map((row) => row.eventId),
            ),
          ),
        )
        .orderBy(asc(webhookAttempts.at))
    : [];
  return {
    deliveries: page.map((row) =>
      view(
        row,
        attempts.filter((a) => a.eventId === row.eventId),
      ),
    ),
    nextCursor: rows.length > query.limit ? page.at(-1)!.eventId : null,
  };
}

/**
 * Sends a delivery again now, whatever its state: it is pending again with a fresh schedule
 * (attempt numbers start again at 1; the earlier attempts stay in the log), same `webhook-id`.
 */
/** A delivery made pending again from its first attempt: the statement, for a caller's batch. */
export const reopenWebhookDelivery = (
  db: Database,
  { endpointId, eventId }: WebhookDeliveryMessage,
  now = new Date(),
) =>
  db
    .update(webhookMessages)
    .set({ status: "pending", attempts: 0, nextAttemptAt: now, leaseUntil: null, deliveredAt: null })
    .where(and(eq(webhookMessages.endpointId, endpointId), eq(webhookMessages.eventId, eventId)))
    .returning();

export async function resendWebhookDelivery(
  deps: { db: Database; webhookQueue: Queue<WebhookDeliveryMessage> },
  endpointId: string,
  eventId: string,
) {
  const [row] = await reopenWebhookDelivery(deps.db, { endpointId, eventId });
  if (!row) throw notFound("Webhook delivery");
  await deps.webhookQueue.send({ endpointId, eventId });
  return view(row, []);
}

/** How long a pending row may wait for its queue message before the sweep sends another. */
const SWEEP_GRACE_MS = 60_000;
const SWEEP_LIMIT = 500;

/**
 * The cron's safety net: pending rows past their time whose queue message never came (a send that
 * failed after its batch committed, a local crash). A duplicate message is harmless: the lease decides.
 */
export async function sweepWebhookDeliveries(
  deps: { db: Database; webhookQueue: Queue<WebhookDeliveryMessage> },
  now = Date.now(),
): Promise<number> {
  const due = await deps.db
    .select({ endpointId: webhookMessages.endpointId, eventId: webhookMessages.eventId })
    .from(webhookMessages)
    .where(
      and(
        eq(webhookMessages.status, "pending"),
        lte(webhookMessages.nextAttemptAt, new Date(now - SWEEP_GRACE_MS)),
        or(isNull(webhookMessages.leaseUntil), lt(webhookMessages.leaseUntil, new Date(now))),
      ),
    )
    .limit(SWEEP_LIMIT);
  await sendAll(deps.webhookQueue, due);
  return due.length;
}

/** A delivery whose queue message died (the platform's backstop, not the schedule): dead-lettered. */
export async function settleDeadWebhookDelivery(db: Database, key: WebhookDeliveryMessage) {
  await db
    .update(webhookMessages)
    .set({ status: "dead", leaseUntil: null })
    .where(
      and(
        eq(webhookMessages.endpointId, key.endpointId),
        eq(webhookMessages.eventId, key.eventId),
        eq(webhookMessages.status, "pending"),
      ),
    );
}
