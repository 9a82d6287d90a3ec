import { isSQLWrapper, type SQL, sql } from "drizzle-orm";
import { type BatchStatement, type Database, runBatch } from "../../db/client";
import type { WebhookEventType } from "../../db/schema";
import { newId } from "../../lib/ids";
import { errorFields, log } from "../../lib/log";
import { sendAll, type WebhookDeliveryMessage } from "../../lib/queues";

/** What producers of webhook events need: the database and the delivery queue. */
export type WebhookEmitDeps = { db: Database; webhookQueue: Queue<WebhookDeliveryMessage> };

/** Ids and statuses only: no addresses, no properties (docs/webhooks.md lists each type's data). */
export type WebhookEventData = Record<string, string | number | boolean | null>;
/** `data` may be SQL (a `json_object(…)` read inside the batch) when the ids live in D1. */
export type WebhookEvent = { type: WebhookEventType; data: WebhookEventData | SQL; userId?: string | SQL | null };

/**
 * One statement for a D1 batch: the event's outbox rows, one per enabled endpoint subscribed to
 * its type. `when` (SQL evaluated inside the batch, after the change) makes the rows conditional
 * on the change having happened, so a duplicate or refused change emits nothing. Its result (the
 * rows made) goes to `enqueueWebhookDeliveries` once the batch has committed.
 */
export function webhookOutboxStatement(db: Database, event: WebhookEvent, when?: SQL): BatchStatement {
  const eventId = newId();
  const now = Date.now();
  const guard = when ? sql` AND ${when}` : sql``;
  const payload = isSQLWrapper(event.data) ? event.data : JSON.stringify(event.data);
  const plainUserId = isSQLWrapper(event.data) ? null : (event.data as WebhookEventData).userId;
  const userId = event.userId ?? (typeof plainUserId === "string" ? plainUserId : null);
  return db.all(sql`INSERT INTO webhook_messages
      (endpoint_id, event_id, type, user_id, payload, created_at, status, attempts, next_attempt_at)
    SELECT e.id, ${eventId}, ${event.type}, ${userId}, ${payload}, ${now}, 'pending', 0, ${now}
    FROM webhook_endpoints e
    WHERE e.enabled = 1 AND EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ${event.type})
      AND ${payload} IS NOT NULL${guard}
    ON CONFLICT DO NOTHING
    RETURNING endpoint_id AS endpointId, event_id AS eventId`) as unknown as BatchStatement;
}

/**
 * After the batch committed: one queue message per outbox row it made (none when no endpoint is
 * subscribed, the usual case). A failed send is logged, not thrown: the change stands, and the
 * cron's sweep sends what is still pending (as it does for producers with no queue at hand).
 */
export async function enqueueWebhookDeliveries(queue: Queue<WebhookDeliveryMessage> | undefined, results: unknown[]) {
  if (!queue) return;
  const rows = results.flatMap((result) => (Array.isArray(result) ? result : [])) as WebhookDeliveryMessage[];
  if (rows.length === 0) return;
  try {
    await sendAll(queue, rows);
  } catch (error) {
    log.error("webhook deliveries not queued (the sweep will)", { count: rows.length, ...errorFields(error) });
  }
}

/**
 * For a change that has no batch of its own to join (or already committed): the events' outbox
 * rows in one D1 round trip, then their queue messages. `when` per event as in the statement.
 */
export async function emitWebhookEvents(
  deps: WebhookEmitDeps,
  events: Array<WebhookEvent & { when?: SQL }>,
): Promise<void> {
  if (events.length === 0) return;
  const results = await runBatch(
    deps.db,
    events.map((event) => webhookOutboxStatement(deps.db, event, event.when)),
  );
  await enqueueWebhookDeliveries(deps.webhookQueue, results);
}
