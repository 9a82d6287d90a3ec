import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { eventPending } from "../db/guarded";
import { personKey } from "../db/person-key";
import { enrollments } from "../db/schema";
import { chunk } from "../lib/chunk";
import { RUNNING } from "./enrollments";

/** An event that ends its person's running enrollment in a journey (its `exitOn` matched). */
export type ExitingEvent = { id: string; userId: string; event: string };
/** Events per exit statement: one JSON parameter, a few KB. */
const EXITING_EVENTS_PER_STATEMENT = 200;

const exitingJson = (events: ExitingEvent[]) => JSON.stringify(events.map((e) => [e.id, e.userId, e.event]));
const jsonCell = (index: 0 | 1 | 2) => sql.raw(`j.value ->> '$[${index}]'`);

/**
 * Ends the running enrollments in `journeyKey` of these events' people, set-based: one statement
 * per 200 events, whatever the number of people (an event per statement made 500 exits 1,500 D1
 * statements). Each enrollment is ended by its person's first event of the list (with
 * `onlyIfEventPending`: the first still stored and unprocessed), which it names; the statements run
 * in order, so a later event of a person already exited ends nothing. Returns the ended rows.
 */
export function exitStatements(
  db: Database,
  journeyKey: string,
  events: ExitingEvent[],
  options: { onlyIfEventPending?: boolean; now?: Date } = {},
) {
  const now = options.now ?? new Date();
  return chunk(events, EXITING_EVENTS_PER_STATEMENT).map((part) => {
    const json = exitingJson(part);
    const pending = options.onlyIfEventPending ? sql`AND ${eventPending(jsonCell(0))}` : sql``;
    const first = (cell: 0 | 2) =>
      sql`(SELECT ${jsonCell(cell)} FROM json_each(${json}) j
        WHERE ${personKey(jsonCell(1))} = ${enrollments.userId} ${pending} ORDER BY j.key LIMIT 1)`;
    return db
      .update(enrollments)
      .set({
        status: "exited",
        exitReason: sql`'event:' || ${first(2)}`,
        exitEventId: first(0),
        waitingFor: null,
        finishedAt: now,
        updatedAt: now,
      })
      .where(
        and(
          eq(enrollments.journeyKey, journeyKey),
          inArray(enrollments.status, RUNNING),
          sql`${enrollments.userId} IN (SELECT ${personKey(jsonCell(1))} FROM json_each(${json}) j)`,
          sql`${first(0)} IS NOT NULL`,
        ),
      )
      .returning({ id: enrollments.id, journeyKey: enrollments.journeyKey, eventId: enrollments.exitEventId });
  });
}

/** What `exitStatements` would end, per event (dry runs): every event of a person names its running enrollment. */
export function runningEnrollmentStatements(db: Database, journeyKey: string, events: ExitingEvent[]) {
  return chunk(events, EXITING_EVENTS_PER_STATEMENT).map((part) =>
    db.all<{ id: string; journeyKey: string; eventId: string }>(
      sql`SELECT e.id, e.journey_key AS journeyKey, ${jsonCell(0)} AS eventId FROM json_each(${exitingJson(part)}) j
        JOIN enrollments e ON e.user_id = ${personKey(jsonCell(1))} AND e.journey_key = ${journeyKey}
          AND e.status IN ('active', 'waiting')
        ORDER BY j.key`,
    ),
  );
}
