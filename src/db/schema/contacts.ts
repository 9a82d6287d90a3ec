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
     * The import job that last created or updated the contact. A running import skips rows whose
     * contact already carries its own id: that is how a repeated externalId is found anywhere in a file.
     */
    importJobId: text("import_job_id"),
  },
  (t) => [
    // Every upsert (ingest, import, enroll) targets external_id: it is the conflict target.
    uniqueIndex("contacts_external_id_unique").on(t.externalId),
    // Admin search and suppression checks look contacts up by address.
    index("contacts_email_idx").on(t.email),
  ],
);

export type Contact = typeof contacts.$inferSelect;
