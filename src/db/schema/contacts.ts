import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export type Properties = Record<string, unknown>;

export const contacts = sqliteTable(
  "contacts",
  {
    id: text("id").primaryKey(),
    externalId: text("external_id").notNull(),
    email: text("email"),
    properties: text("properties", { mode: "json" }).$type<Properties>().notNull().default(sql`'{}'`),
    unsubscribedAt: integer("unsubscribed_at", { mode: "timestamp_ms" }),
    firstSeenAt: integer("first_seen_at", { mode: "timestamp_ms" }),
    lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    /**
     * The import job that last created or updated the contact (backfills filter on it). A running
     * import skips rows whose contact already carries its own id: that is how a repeated externalId
     * is found anywhere in a file.
     */
    importJobId: text("import_job_id"),
  },
  (t) => [
    // Every upsert (ingest, import, enroll) targets external_id: it is the conflict target.
    uniqueIndex("contacts_external_id_unique").on(t.externalId),
    // A contact is found by its normalized address (lookups, the claim rule): the stored address
    // keeps its spelling, every comparison goes through lower(trim(…)) (services/suppressions).
    index("contacts_email_normalized_idx").on(sql`lower(trim(${t.email}))`),
    // Backfills select the contacts one import wrote.
    index("contacts_import_job_idx").on(t.importJobId, t.id),
  ],
);

export type Contact = typeof contacts.$inferSelect;

/** Who can change a contact: an event's source, an import, a batch enrollment, an admin, or the contact's own unsubscribe link. */
export const CONTACT_CHANGE_SOURCES = [
  "api",
  "batch",
  "posthog",
  "import",
  "enroll",
  "admin",
  "unsubscribe_link",
] as const;
export type ContactChangeSource = (typeof CONTACT_CHANGE_SOURCES)[number];

/**
 * An audit trail of the changes that decide where mail goes: the address (old → new) and the
 * opt-out flags. Written in the same D1 batch as the change itself, so one never exists without
 * the other.
 */
export const contactChanges = sqliteTable(
  "contact_changes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    contactId: text("contact_id").notNull(),
    field: text("field", { enum: ["email", "unsubscribed", "suppressed"] }).notNull(),
    oldValue: text("old_value"),
    newValue: text("new_value"),
    source: text("source", { enum: CONTACT_CHANGE_SOURCES }).notNull(),
    eventId: text("event_id"),
    changedAt: integer("changed_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The contact and preferences pages show a contact's latest changes of one field.
  (t) => [index("contact_changes_contact_field_idx").on(t.contactId, t.field, t.id)],
);

export type ContactChange = typeof contactChanges.$inferSelect;
