import { and, eq, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { suppressions } from "../db/schema";
import { sha256 } from "../lib/sha256";

/**
 * The one way an address is compared: SQLite's `lower(trim(…))`, in SQL on both sides, so the
 * suppression list, the entry guards, delivery and the send cap can never disagree on what
 * "the same address" is (JS and SQLite lowercase non-ASCII letters differently).
 */
export const normalizedAddress = (email: string) => sql`lower(trim(${email}))`;

/**
 * How an erased person's address is kept: `sha256:<hex>` of the address trimmed and lowercased.
 * Hashing happens in JS (SQL has no SHA-256), so for addresses with non-ASCII capitals it can
 * differ from `normalizedAddress`; the clear-text comparison above stays the primary one.
 */
export function hashedAddress(email: string): Promise<string> {
  return sha256(email.trim().toLowerCase());
}

/** `hashedAddress` of each address (null stays null): what entry candidates carry. */
export function hashedAddresses(emails: Array<string | null | undefined>): Promise<Array<string | null>> {
  return Promise.all(emails.map((email) => (email ? hashedAddress(email) : null)));
}

/** The suppression of an address, in clear or hashed (erased contacts); the send step's check. */
export async function suppressionOf(db: Database, email: string | null) {
  if (!email) return null;
  const [row] = await db
    .select()
    .from(suppressions)
    .where(or(eq(suppressions.email, normalizedAddress(email)), eq(suppressions.email, await hashedAddress(email))))
    .limit(1);
  return row ?? null;
}

/** Keeps the first reason an address was suppressed for. */
export function suppressStatement(db: Database, email: string, reason: string, now = new Date()) {
  return db
    .insert(suppressions)
    .values({ email: normalizedAddress(email), reason, createdAt: now })
    .onConflictDoNothing();
}

/**
 * Lifts a suppression of the address, in clear and hashed (`hashed`: its `hashedAddress`, computed
 * by the caller, SQL having no SHA-256); with `onlyReason`, only one made for that reason (a
 * bounce stays a bounce).
 */
export function unsuppressStatement(db: Database, email: string, hashed: string, onlyReason?: string) {
  return db
    .delete(suppressions)
    .where(
      and(
        or(eq(suppressions.email, normalizedAddress(email)), eq(suppressions.email, hashed)),
        onlyReason ? eq(suppressions.reason, onlyReason) : undefined,
      ),
    );
}

export const SOFT_BOUNCES_BEFORE_SUPPRESSION = 3;

export function softBounceCount(db: Database, email: string) {
  return db.get<{ n: number }>(
    sql`SELECT count(*) AS n FROM emails WHERE lower(to_address) = ${normalizedAddress(email)} AND bounce_type = 'soft'`,
  );
}
