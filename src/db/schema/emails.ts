import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Properties } from "./contacts";

export const EMAIL_STATUSES = [
  "queued",
  "sent",
  "delivered",
  "bounced",
  "complained",
  "failed",
  "suppressed",
  "skipped",
] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

export const emails = sqliteTable(
  "emails",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    toAddress: text("to_address"),
    templateKey: text("template_key"),
    props: text("props", { mode: "json" }).$type<Properties>().notNull().default(sql`'{}'`),
    subject: text("subject"),
    // Rendered bodies are kept only for the log provider, so local journeys can be inspected.
    html: text("html"),
    text: text("text"),
    status: text("status", { enum: EMAIL_STATUSES }).notNull(),
    provider: text("provider"),
    providerMessageId: text("provider_message_id"),
    error: text("error"),
    bounceType: text("bounce_type", { enum: ["hard", "soft"] }),
    journeyKey: text("journey_key"),
    enrollmentId: text("enrollment_id"),
    /** The journey step that created the email: with enrollmentId, makes a retried step reuse its row. */
    stepKey: text("step_key"),
    resentFromId: text("resent_from_id"),
    /** The topic the email belongs to (null: a transactional email naming none). */
    topicKey: text("topic_key"),
    /** Sent despite unsubscribes and topic opt-outs (never suppressions); counted apart in the daily cap. */
    transactional: integer("transactional", { mode: "boolean" }).notNull().default(false),
    /** POST /v1/emails: the caller's key; a repeat answers this row and sends nothing more. */
    idempotencyKey: text("idempotency_key"),
    /** POST /v1/emails: not sent before this time. */
    sendAt: integer("send_at", { mode: "timestamp_ms" }),
    /** The broadcast that made the email, and the contact it went to (one email per contact per broadcast). */
    broadcastId: text("broadcast_id"),
    contactId: text("contact_id"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    sentAt: integer("sent_at", { mode: "timestamp_ms" }),
    deliveredAt: integer("delivered_at", { mode: "timestamp_ms" }),
    bouncedAt: integer("bounced_at", { mode: "timestamp_ms" }),
    complainedAt: integer("complained_at", { mode: "timestamp_ms" }),
    failedAt: integer("failed_at", { mode: "timestamp_ms" }),
    suppressedAt: integer("suppressed_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    // A journey step's email is created once, however often the step is retried.
    uniqueIndex("emails_enrollment_step_unique").on(t.enrollmentId, t.stepKey),
    // Provider webhooks find the email by the provider's message id.
    index("emails_provider_message_idx").on(t.providerMessageId),
    // Admin lists and resend filters by status over time; metrics count sends by time.
    index("emails_status_created_idx").on(t.status, t.createdAt),
    // Bulk resend skips emails that already have a resent copy.
    index("emails_resent_from_idx").on(t.resentFromId),
    // Every lookup by address compares lower(to_address) (the per-address daily cap, soft-bounce
    // counting, the admin `to` filter); sent_at second lets the cap count one address's last 24 h.
    index("emails_to_address_sent_idx").on(sql`lower(${t.toAddress})`, t.sentAt),
    // POST /v1/emails: one email per idempotency key, decided by D1 under concurrent retries.
    uniqueIndex("emails_idempotency_key_unique").on(t.idempotencyKey),
    // A broadcast emails a contact once, however often a page is redelivered; its counts group by it.
    uniqueIndex("emails_broadcast_contact_unique").on(t.broadcastId, t.contactId),
    // Erasure deletes a person's emails by user id.
    index("emails_user_idx").on(t.userId),
    // Retention finds old emails that still hold a rendered body.
    index("emails_body_created_idx").on(t.createdAt).where(sql`html IS NOT NULL OR text IS NOT NULL`),
  ],
);

export type Email = typeof emails.$inferSelect;

/**
 * A contact's explicit choice per topic (topics are code: src/emails/topics.ts). No row: the
 * topic's default applies (opt-in topics need a yes, opt-out topics block only on a no).
 */
export const topicPreferences = sqliteTable(
  "topic_preferences",
  {
    contactId: text("contact_id").notNull(),
    topicKey: text("topic_key").notNull(),
    subscribed: integer("subscribed", { mode: "boolean" }).notNull(),
    source: text("source").notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  // One choice per contact and topic; sends and the preference page read a contact's rows.
  (t) => [primaryKey({ columns: [t.contactId, t.topicKey] })],
);

export type TopicPreference = typeof topicPreferences.$inferSelect;

/** Addresses never to email again (hard bounce, complaint, 3 soft bounces, an admin, or an imported list). */
export const suppressions = sqliteTable(
  "suppressions",
  {
    /** The address trimmed and lowercased, or an erased person's keyed hash (`hmac:<hex>`). */
    email: text("email").primaryKey(),
    reason: text("reason").notNull(),
    /** Where an imported or bulk-added entry came from (`postmark`, `import`, `api`…); null for the product's own. */
    source: text("source"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The admin list and export filter by reason or source and page by address (keyset on email).
  (t) => [
    index("suppressions_reason_email_idx").on(t.reason, t.email),
    index("suppressions_source_email_idx").on(t.source, t.email),
  ],
);

/**
 * Lifted suppressions: which entry (its stored key: an erased person's stays a hash), its reason,
 * who lifted it and when. The contacts with the address also get a `suppressed` change.
 */
export const suppressionLifts = sqliteTable("suppression_lifts", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  email: text("email").notNull(),
  reason: text("reason").notNull(),
  source: text("source"),
  forced: integer("forced", { mode: "boolean" }).notNull(),
  liftedBy: text("lifted_by").notNull(),
  liftedAt: integer("lifted_at", { mode: "timestamp_ms" }).notNull(),
});
