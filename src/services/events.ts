import { and, desc, eq, gte, inArray, lt, lte, type SQL } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { events, type StoredEvent } from "../db/schema";
import { notFound } from "../lib/errors";
import { chunkForParams, keysetPage, paramsPerRow } from "../lib/sql";

export type NewEvent = typeof events.$inferInsert;

/**
 * Inserts events in multi-row statements, one D1 round trip for the whole set. A row whose
 * idempotency key already exists (earlier, concurrently, or earlier in the same set) is skipped
 * by the unique index; the returned ids are exactly the rows this call stored.
 */
export async function insertEventsDeduplicated(db: Database, rows: NewEvent[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const statements = chunkForParams(rows, paramsPerRow(events)).map((chunk) =>
    db.insert(events).values(chunk).onConflictDoNothing({ target: events.idempotencyKey }).returning({ id: events.id }),
  );
  const results = (await runBatch(db, statements)) as Array<Array<{ id: string }>>;
  return new Set(results.flat().map((row) => row.id));
}

export function markProcessedStatements(db: Database, eventIds: string[], at = new Date()) {
  return chunkForParams(eventIds, 1, 99).map((ids) =>
    db.update(events).set({ processedAt: at }).where(inArray(events.id, ids)),
  );
}

export type EventListQuery = {
  event?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
};

export function eventFilter(query: Omit<EventListQuery, "limit" | "cursor">): SQL[] {
  const conditions: SQL[] = [];
  if (query.event) conditions.push(eq(events.event, query.event));
  if (query.userId) conditions.push(eq(events.userId, query.userId));
  if (query.from) conditions.push(gte(events.occurredAt, query.from));
  if (query.to) conditions.push(lte(events.occurredAt, query.to));
  return conditions;
}

/** Newest first by id (ids are time-ordered at receipt), keyset-paged. */
export async function listEvents(db: Database, query: EventListQuery) {
  const conditions = eventFilter(query);
  if (query.cursor) conditions.push(lt(events.id, query.cursor));
  const rows = await db
    .select()
    .from(events)
    .where(and(...conditions))
    .orderBy(desc(events.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { events: page, nextCursor };
}

export async function getEvent(db: Database, id: string): Promise<StoredEvent> {
  const [row] = await db.select().from(events).where(eq(events.id, id)).limit(1);
  if (!row) throw notFound("Event");
  return row;
}
