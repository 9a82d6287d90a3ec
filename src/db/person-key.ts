import { type SQL, sql } from "drizzle-orm";

/**
 * The person an incoming id belongs to, in SQL: the externalId of the contact it is an alias of,
 * else the id itself. Every write keyed by an incoming user id goes through it, in the same
 * statement, so an event or row for an alias lands on its person with no extra round trip.
 */
export const personKey = (userId: SQL | string): SQL =>
  sql`coalesce((SELECT pk_c.external_id FROM contact_aliases pk_a JOIN contacts pk_c ON pk_c.id = pk_a.contact_id WHERE pk_a.alias = ${userId}), ${userId})`;
