import { and, asc, inArray, isNull, lt, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { events, type StoredEvent } from "../db/schema";
import { chunkForParams } from "../lib/sql";

/** Events stored but never processed, received before `receivedBefore` and tried fewer than `maxAttempts` runs; oldest first. */
export function unprocessedEvents(
  db: Database,
  query: { receivedBefore: Date; maxAttempts: number; limit: number },
): Promise<StoredEvent[]> {
  return db
    .select()
    .from(events)
    .where(
      and(
        isNull(events.processedAt),
        lt(events.receivedAt, query.receivedBefore),
        lt(events.healAttempts, query.maxAttempts),
      ),
    )
    .orderBy(asc(events.receivedAt))
    .limit(query.limit);
}

/** One more healing run tried these events. */
export async function countHealAttempt(db: Database, eventIds: string[]): Promise<void> {
  await runBatch(
    db,
    chunkForParams(eventIds, 1, 99).map((ids) =>
      db
        .update(events)
        .set({ healAttempts: sql`${events.healAttempts} + 1` })
        .where(inArray(events.id, ids)),
    ),
  );
}
