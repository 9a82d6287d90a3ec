import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { suppressions } from "../db/schema";

const normalize = (email: string) => email.trim().toLowerCase();

export async function suppressionOf(db: Database, email: string | null) {
  if (!email) return null;
  const [row] = await db
    .select()
    .from(suppressions)
    .where(eq(suppressions.email, normalize(email)))
    .limit(1);
  return row ?? null;
}

/** Keeps the first reason an address was suppressed for. */
export function suppressStatement(db: Database, email: string, reason: string, now = new Date()) {
  return db
    .insert(suppressions)
    .values({ email: normalize(email), reason, createdAt: now })
    .onConflictDoNothing();
}

export function unsuppressStatement(db: Database, email: string) {
  return db.delete(suppressions).where(eq(suppressions.email, normalize(email)));
}

export const SOFT_BOUNCES_BEFORE_SUPPRESSION = 3;

export function softBounceCount(db: Database, email: string) {
  return db.get<{ n: number }>(
    sql`SELECT count(*) AS n FROM emails WHERE lower(to_address) = ${normalize(email)} AND bounce_type = 'soft'`,
  );
}
