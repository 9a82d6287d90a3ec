import { and, asc, eq, gt, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Contact, contacts, type Properties } from "../db/schema";
import { roundsByKey } from "../lib/chunk";
import { notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { chunkForParams, escapeLike, keysetPage, paramsPerRow } from "../lib/sql";

export type ContactUpsert = {
  externalId: string;
  email?: string | null;
  properties?: Properties;
  /** When the contact was seen (an event's occurrence time); omitted for imports. */
  seenAt?: Date;
};

/**
 * Multi-row upsert statements by externalId: properties merge (JSON merge patch), email is only
 * overwritten when given, first/last seen widen. Rows are split into rounds so no statement names
 * the same externalId twice (SQLite refuses to update one row twice in one statement), which keeps
 * the per-row merge order exactly the input order. Returns statements for the caller to batch.
 * `onlyIfNewer` leaves a contact alone when it was already seen later than the row.
 */
export function contactUpsertStatements(
  db: Database,
  rows: ContactUpsert[],
  options: { now?: Date; onlyIfNewer?: boolean } = {},
) {
  const now = options.now ?? new Date();
  return roundsByKey(rows, (row) => row.externalId).flatMap((round) =>
    chunkForParams(round, paramsPerRow(contacts)).map((chunk) =>
      db
        .insert(contacts)
        .values(
          chunk.map((row) => ({
            id: newId(),
            externalId: row.externalId,
            email: row.email ?? null,
            properties: row.properties ?? {},
            firstSeenAt: row.seenAt ?? null,
            lastSeenAt: row.seenAt ?? null,
            createdAt: now,
            updatedAt: now,
          })),
        )
        .onConflictDoUpdate({
          target: contacts.externalId,
          set: {
            email: sql`coalesce(excluded.email, ${contacts.email})`,
            properties: sql`json_patch(${contacts.properties}, excluded.properties)`,
            firstSeenAt: sql`coalesce(min(${contacts.firstSeenAt}, excluded.first_seen_at), ${contacts.firstSeenAt}, excluded.first_seen_at)`,
            lastSeenAt: sql`coalesce(max(${contacts.lastSeenAt}, excluded.last_seen_at), ${contacts.lastSeenAt}, excluded.last_seen_at)`,
            updatedAt: sql`excluded.updated_at`,
          },
          // Late processing (self-healing) must not overwrite what newer events already set.
          setWhere: options.onlyIfNewer
            ? sql`${contacts.lastSeenAt} IS NULL OR ${contacts.lastSeenAt} <= excluded.last_seen_at`
            : undefined,
        }),
    ),
  );
}

export type ContactListQuery = { search?: string; limit: number; cursor?: string };

/** Search on email or externalId (LIKE wildcards in the term match literally), keyset-paged by id. */
export function contactFilter(query: { search?: string; cursor?: string }): SQL | undefined {
  const conditions: Array<SQL | undefined> = [];
  if (query.search) {
    const pattern = `%${escapeLike(query.search)}%`;
    conditions.push(
      or(sql`${contacts.email} LIKE ${pattern} ESCAPE '\\'`, sql`${contacts.externalId} LIKE ${pattern} ESCAPE '\\'`),
    );
  }
  if (query.cursor) conditions.push(gt(contacts.id, query.cursor));
  return and(...conditions);
}

export async function listContacts(db: Database, query: ContactListQuery) {
  const rows = await db
    .select()
    .from(contacts)
    .where(contactFilter(query))
    .orderBy(asc(contacts.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { contacts: page, nextCursor };
}

export async function getContact(db: Database, idOrExternalId: string): Promise<Contact> {
  const [row] = await db
    .select()
    .from(contacts)
    .where(or(eq(contacts.id, idOrExternalId), eq(contacts.externalId, idOrExternalId)))
    .orderBy(sql`${contacts.id} = ${idOrExternalId} DESC`)
    .limit(1);
  if (!row) throw notFound("Contact");
  return row;
}
