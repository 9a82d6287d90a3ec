import { and, desc, eq, gte, inArray, isNull, lt, lte, type SQL, sql } from "drizzle-orm";
import { type BatchPlan, plan } from "../db/batch-plan";
import type { Database } from "../db/client";
import { personKey } from "../db/person-key";
import { events, type StoredEvent } from "../db/schema";
import { notFound } from "../lib/errors";
import { chunkForParams, keysetPage } from "../lib/sql";
import { erasedSince } from "./erasure-markers";

export type NewEvent = typeof events.$inferInsert;

/** One bound JSON parameter stays well under D1's 2 MB value limit (properties are ≤ 64 KB each). */
const INSERT_JSON_MAX_BYTES = 512 * 1024;

/** Each event's user as `erasureKeys` hashed them: the insert skips a person erased since. */
type ErasureKeys = Map<string, string>;

const asJsonRow = (row: NewEvent, keys: ErasureKeys) =>
  JSON.stringify([
    row.id,
    row.event,
    row.userId,
    row.userEmail ?? null,
    row.properties ?? {},
    row.idempotencyKey ?? null,
    row.source,
    row.occurredAt.getTime(),
    row.receivedAt.getTime(),
    keys.get(row.userId) ?? null,
    row.anonymous ? 1 : 0,
    row.contactUpdate ?? null,
  ]);

/** Rows as JSON arrays of at most INSERT_JSON_MAX_BYTES each (UTF-16 length bounds UTF-8 bytes / 3). */
function jsonChunks(rows: NewEvent[], keys: ErasureKeys): string[] {
  const chunks: string[][] = [[]];
  let size = 0;
  for (const json of rows.map((row) => asJsonRow(row, keys))) {
    if (size + json.length * 3 > INSERT_JSON_MAX_BYTES && chunks.at(-1)!.length) {
      chunks.push([]);
      size = 0;
    }
    chunks.at(-1)!.push(json);
    size += json.length * 3;
  }
  return chunks.filter((c) => c.length).map((c) => `[${c.join(",")}]`);
}

/**
 * Inserts for one D1 batch, the rows passed as one JSON parameter expanded by `json_each` (no
 * 100-parameter tax: a 100-event write is one statement). A row whose idempotency key already
 * exists (earlier, concurrently, or earlier in the same set) or whose id is already stored (a
 * redelivered buffered event) is skipped, and so is the event of a person erased since it was received
 * (`keys`: from `erasureKeys`); decodes to exactly the ids this batch stored.
 */
export function insertEventsPlan(db: Database, rows: NewEvent[], keys: ErasureKeys): BatchPlan<Set<string>> {
  const erased = erasedSince(sql`json_extract(value, '$[9]')`, sql`json_extract(value, '$[8]')`);
  const statements = jsonChunks(rows, keys).map((json) =>
    db.all<{ id: string }>(sql`INSERT INTO events
      (id, event, user_id, user_email, properties, idempotency_key, source, occurred_at, received_at,
        anonymous, contact_update)
      SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ${personKey(sql`json_extract(value, '$[2]')`)},
        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
        json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
        json_extract(value, '$[10]'), json_extract(value, '$[11]')
      FROM json_each(${json}) WHERE NOT ${erased}
      ON CONFLICT DO NOTHING RETURNING id`),
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
  // By any of the person's ids: their events carry their current key.
  if (query.userId) conditions.push(eq(events.userId, personKey(query.userId)));
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
