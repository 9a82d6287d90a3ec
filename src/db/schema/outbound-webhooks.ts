import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const WEBHOOK_EVENT_TYPES = [
  "email.sent",
  "email.delivered",
  "email.bounced",
  "email.complained",
  "email.opened",
  "email.clicked",
  "contact.unsubscribed",
  "contact.erased",
  "import.completed",
  "import.failed",
  "backfill.completed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "dead"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** Where outbound webhooks go (POST /v1/admin/webhooks). The secret signs; it is never listed. */
export const webhookEndpoints = sqliteTable("webhook_endpoints", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  description: text("description"),
  /** JSON array of event types: the outbox's fan-out matches on it with json_each. */
  events: text("events", { mode: "json" }).$type<WebhookEventType[]>().notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  /** `whsec_` + base64: Standard Webhooks' format. */
  secret: text("secret").notNull(),
  /** After a rotation the old secret signs too, until `previous_secret_until`. */
  previousSecret: text("previous_secret"),
  previousSecretUntil: integer("previous_secret_until", { mode: "timestamp_ms" }),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * The outbox: one row per event per subscribed endpoint, written in the batch of the change the
 * event reports. The event id (uuidv7) is the `webhook-id`, so every retry and redelivery of one
 * row carries the same id.
 */
export const webhookMessages = sqliteTable(
  "webhook_messages",
  {
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    type: text("type").$type<WebhookEventType>().notNull(),
    /** The person the event is about (your user id), when there is one: erasure deletes their rows by it. */
    userId: text("user_id"),
    /** The event's `data` as JSON text (ids and statuses only). */
    payload: text("payload").notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    status: text("status", { enum: WEBHOOK_DELIVERY_STATUSES }).notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }).notNull(),
    /** A consumer holding this row until then: a redelivered queue message doesn't send it twice. */
    leaseUntil: integer("lease_until", { mode: "timestamp_ms" }),
    deliveredAt: integer("delivered_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    // The primary key pages one endpoint's deliveries newest first (event ids sort by time).
    primaryKey({ columns: [t.endpointId, t.eventId] }),
    // The cron's sweep of pending rows whose queue message was lost.
    index("webhook_messages_due_idx").on(t.status, t.nextAttemptAt),
    // Erasure's delete of a person's deliveries.
    index("webhook_messages_user_idx").on(t.userId),
  ],
);

/** Every attempt at a delivery, with what the endpoint answered. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    attempt: integer("attempt").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    durationMs: integer("duration_ms").notNull(),
    /** The HTTP status, null when no answer came (timeout, refused address, network error). */
    statusCode: integer("status_code"),
    error: text("error"),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.endpointId, t.eventId, t.attempt)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookMessageRow = typeof webhookMessages.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
