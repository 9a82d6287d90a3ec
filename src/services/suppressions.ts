import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { suppressions } from "../db/schema";
import type { KeyedHash } from "../lib/keyed-hash";
import { sha256 } from "../lib/sha256";

/**
 * The one way an address is compared: SQLite's `lower(trim(…))`, in SQL on both sides, so the
 * suppression list, the entry guards, delivery and the send cap can never disagree on what
 * "the same address" is (JS and SQLite lowercase non-ASCII letters differently).
 */
export const normalizedAddress = (email: string) => sql`lower(trim(${email}))`;

/**
 * How an erased person's address is kept: the keyed hash (`hmac:<hex>`) of the address trimmed and
 * lowercased. Hashing happens in JS (SQL has no HMAC), so for addresses with non-ASCII capitals it
 * can differ from `normalizedAddress`; the clear-text comparison above stays the primary one.
 */
export function hashedAddress(hash: KeyedHash, email: string): Promise<string> {
  return hash(email.trim().toLowerCase());
}

/** `hashedAddress` of each address (null stays null): what entry candidates carry. */
export function hashedAddresses(
  hash: KeyedHash,
  emails: Array<string | null | undefined>,
): Promise<Array<string | null>> {
  return Promise.all(emails.map((email) => (email ? hashedAddress(hash, email) : null)));
}

/**
 * Erasures before migration 0012 kept a bare `sha256:<hex>`; no secret can re-key them, so the
 * send step and lifting still recognise that form.
 */
const legacyHashedAddress = (email: string) => sha256(email.trim().toLowerCase());

/** The suppression of an address, in clear or hashed (erased contacts); the send step's check. */
export async function suppressionOf(db: Database, hash: KeyedHash, email: string | null) {
  if (!email) return null;
  const { hashed } = await hashedForms(hash, email);
  const [row] = await db
    .select()
    .from(suppressions)
    .where(or(eq(suppressions.email, normalizedAddress(email)), inArray(suppressions.email, hashed)))
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

/** An address with its hashed forms (keyed and legacy), computed ahead of a batch (hashing is async). */
export type HashedForms = { email: string; hashed: string[] };

export async function hashedForms(hash: KeyedHash, email: string): Promise<HashedForms> {
  return { email, hashed: await Promise.all([hashedAddress(hash, email), legacyHashedAddress(email)]) };
}

/** The hashed forms as an SQL list, for `s.email IN (lower(trim(c.email)), ${hashedList(address)})`. */
export const hashedList = (address: HashedForms | null) =>
  sql.join(
    (address?.hashed ?? [null]).map((hashed) => sql`${hashed}`),
    sql`, `,
  );

/**
 * Lifts a suppression of the address, in clear and hashed; with `onlyReason`, only one made for
 * that reason (a bounce stays a bounce).
 */
export function unsuppressStatement(db: Database, address: HashedForms, onlyReason?: string) {
  return db
    .delete(suppressions)
    .where(
      and(
        or(eq(suppressions.email, normalizedAddress(address.email)), inArray(suppressions.email, address.hashed)),
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
