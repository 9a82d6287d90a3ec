import { and, desc, eq, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { deadLetters } from "../db/schema";
import { keysetPage } from "../lib/sql";

/** Newest first, keyset-paged. */
export async function listDeadLetters(db: Database, query: { queue?: string; limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(deadLetters)
    .where(and(query.queue ? eq(deadLetters.queue, query.queue) : undefined, query.cursor ? lt(deadLetters.id, query.cursor) : undefined))
    .orderBy(desc(deadLetters.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { deadLetters: page, nextCursor };
}
