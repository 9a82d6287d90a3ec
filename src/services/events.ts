import { and, desc, eq, gte, inArray, isNull, lt, lte, type SQL } from "drizzle-orm";
import { type BatchPlan, plan } from "../db/batch-plan";
import type { Database } from "../db/client";
import { events, type StoredEvent } from "../db/schema";
import { notFound } from "../lib/errors";
import { chunkForParams, keysetPage, paramsPerRow } from "../lib/sql";

export type NewEvent = typeof events.$inferInsert;

/**
 * Multi-row inserts for one D1 batch. A row whose idempotency key already exists (earlier,
 * concurrently, or earlier in the same set) or whose id is already stored (a redelivered buffered
 * event) is skipped; decodes to exactly the ids this batch stored.
 */
export function insertEventsPlan(db: Database, rows: NewEvent[]): BatchPlan<Set<string>> {
  const statements = chunkForParams(rows, paramsPerRow(events)).map((chunk) =>
    db.insert(events).values(chunk).onConflictDoNothing().returning({ id: events.id }),
  );
  return plan(statements, (results) => new Set((results as Array<Array<{ id: string }>>).flat().map((r) => r.id)));
}

/** Sets processed_at once: a second processor's mark (or a redelivery's) is a no-op. */
export function markProcessedStatements(db: Database, eventIds: string[], at = new Date()) {
  return chunkForParams(eventIds, 1, 98).map((ids) =>
    db
      .update(events)
      .set({ processedAt: at })
      .where(and(inArray(events.id, ids), isNull(events.processedAt))),
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
