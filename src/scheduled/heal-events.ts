import { and, asc, isNull, lt } from "drizzle-orm";
import { events } from "../db/schema";
import { processStoredEvents } from "../pipeline/ingest";
import type { JourneyRoutingDeps } from "../pipeline/journey-routing";

/** How long an event may sit unprocessed before healing assumes its request died. */
export const UNPROCESSED_GRACE_MS = 2 * 60_000;
const HEAL_BATCH = 200;

/**
 * Finds events stored but never processed (a crash between storing and routing) and runs the rest
 * of the pipeline for them, oldest first, a bounded number per run.
 */
export async function healUnprocessedEvents(deps: JourneyRoutingDeps, now = Date.now()): Promise<number> {
  const stuck = await deps.db
    .select()
    .from(events)
    .where(and(isNull(events.processedAt), lt(events.receivedAt, new Date(now - UNPROCESSED_GRACE_MS))))
    .orderBy(asc(events.receivedAt))
    .limit(HEAL_BATCH);
  if (stuck.length) await processStoredEvents(deps, stuck, { onlyIfNewer: true });
  return stuck.length;
}
