import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const ALIAS_KINDS = ["email_key", "previous_id", "merged", "posthog_anonymous", "posthog_alias"] as const;
export type AliasKind = (typeof ALIAS_KINDS)[number];

/**
 * Other ids a person is known by: the email key an import gave them before their user id arrived,
 * a contact merged into them, a PostHog anonymous id. An id is either a contact's externalId or an
 * alias, never both (the claim, the merge and the PostHog link each move an id from one to the
 * other); every write resolves an incoming id through this table first (db/person-key).
 */
export const contactAliases = sqliteTable(
  "contact_aliases",
  {
    alias: text("alias").primaryKey(),
    /** contacts.id: stable across claims and merges, unlike the externalId. */
    contactId: text("contact_id").notNull(),
    kind: text("kind", { enum: ALIAS_KINDS }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The contact page lists a person's aliases; merge and erasure re-point or delete them.
  (t) => [index("contact_aliases_contact_idx").on(t.contactId)],
);

export type ContactAlias = typeof contactAliases.$inferSelect;

/** A merge as it happened: who merged whom into whom, when, and what moved. */
export const contactMerges = sqliteTable(
  "contact_merges",
  {
    id: text("id").primaryKey(),
    intoContactId: text("into_contact_id").notNull(),
    fromContactId: text("from_contact_id").notNull(),
    fromExternalId: text("from_external_id").notNull(),
    /** `admin` (POST /v1/admin/contacts/merge) or `posthog` ($identify, $create_alias). */
    source: text("source", { enum: ["admin", "posthog"] }).notNull(),
    /** Counts of what moved: {"events":…, "emails":…, "enrollments":…, "aliases":…, "changes":…}. */
    moved: text("moved", { mode: "json" }).$type<Record<string, number>>().notNull(),
    mergedAt: integer("merged_at", { mode: "timestamp_ms" }).notNull(),
  },
  // The contact page shows the merges into a person, newest first.
  (t) => [index("contact_merges_into_idx").on(t.intoContactId, t.mergedAt)],
);

export type ContactMerge = typeof contactMerges.$inferSelect;
