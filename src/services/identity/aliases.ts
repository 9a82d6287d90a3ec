import { asc, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type Contact, contactAliases, contactMerges, contacts } from "../../db/schema";

/** How many merges the contact page shows, newest first. */
export const MERGES_SHOWN = 20;

/**
 * The contact an id names: a contact id, an externalId, or an alias (in that order of precedence),
 * in one query.
 */
export async function findByAnyId(db: Database, id: string): Promise<Contact | undefined> {
  const [row] = await db
    .select()
    .from(contacts)
    .where(
      sql`${contacts.id} = ${id} OR ${contacts.externalId} = ${id}
        OR ${contacts.id} = (SELECT contact_id FROM contact_aliases WHERE alias = ${id})`,
    )
    .orderBy(sql`${contacts.id} = ${id} DESC`, sql`${contacts.externalId} = ${id} DESC`)
    .limit(1);
  return row;
}

/** The one contact with this address (compared normalized), or undefined when none or several have it. */
export async function findByAddress(db: Database, address: string): Promise<Contact | undefined> {
  const rows = await db
    .select()
    .from(contacts)
    .where(sql`lower(trim(${contacts.email})) = lower(trim(${address}))`)
    .limit(2);
  return rows.length === 1 ? rows[0] : undefined;
}

/** A person's aliases and the merges into them, for the contact page. */
export async function identityOf(db: Database, contactId: string) {
  const [aliases, merges] = await Promise.all([
    db
      .select({ alias: contactAliases.alias, kind: contactAliases.kind, createdAt: contactAliases.createdAt })
      .from(contactAliases)
      .where(eq(contactAliases.contactId, contactId))
      .orderBy(asc(contactAliases.createdAt), asc(contactAliases.alias)),
    db
      .select({
        id: contactMerges.id,
        from: contactMerges.fromExternalId,
        fromContactId: contactMerges.fromContactId,
        source: contactMerges.source,
        moved: contactMerges.moved,
        mergedAt: contactMerges.mergedAt,
      })
      .from(contactMerges)
      .where(eq(contactMerges.intoContactId, contactId))
      .orderBy(desc(contactMerges.mergedAt))
      .limit(MERGES_SHOWN),
  ]);
  return { aliases, merges };
}

/** The ids a contact is also known by (erasure marks each of them). */
export async function aliasesOf(db: Database, contactId: string): Promise<string[]> {
  const rows = await db
    .select({ alias: contactAliases.alias })
    .from(contactAliases)
    .where(eq(contactAliases.contactId, contactId));
  return rows.map((row) => row.alias);
}
