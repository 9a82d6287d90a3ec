import type { StoredEvent } from "../db/schema";
import { chunk } from "../lib/chunk";
import { errorFields, log } from "../lib/log";
import { processStoredEvents } from "../pipeline/ingest";
import type { JourneyRoutingDeps } from "../pipeline/journey-routing";
import { HEAL_DEAD_LETTER_QUEUE, recordDeadLetter } from "../services/dead-letters";
import { countHealAttempt, unprocessedEvents } from "../services/unprocessed-events";

/** How long an event may sit unprocessed before healing assumes its request died. */
export const UNPROCESSED_GRACE_MS = 2 * 60_000;
/** Runs that may try one event; the last failure dead-letters it (GET /v1/admin/dead-letters). */
export const HEAL_MAX_ATTEMPTS = 3;
const HEAL_SCAN = 100;
/** Small groups: a failing event costs its group one extra round trip per member, never the run. */
const HEAL_GROUP = 10;

export type HealReport = { healed: number; deadLettered: number };

/**
 * Finds events stored but never processed (a crash between storing and routing, a buffered batch
 * that never got written through) and runs the rest of the pipeline for them, oldest first, in
 * small groups. A group that fails is retried event by event, so one poison event never blocks
 * the others; an event that fails HEAL_MAX_ATTEMPTS runs is dead-lettered with its error.
 */
export async function healUnprocessedEvents(deps: JourneyRoutingDeps, now = Date.now()): Promise<HealReport> {
  const stuck = await unprocessedEvents(deps.db, {
    receivedBefore: new Date(now - UNPROCESSED_GRACE_MS),
    maxAttempts: HEAL_MAX_ATTEMPTS,
    limit: HEAL_SCAN,
  });
  if (stuck.length === 0) return { healed: 0, deadLettered: 0 };
  // Counted before trying, so a run that crashes on an event still brings it closer to the cap.
  await countHealAttempt(
    deps.db,
    stuck.map((event) => event.id),
  );

  const report: HealReport = { healed: 0, deadLettered: 0 };
  for (const group of chunk(stuck, HEAL_GROUP)) {
    try {
      await processStoredEvents(deps, group, { onlyIfNewer: true });
      report.healed += group.length;
    } catch {
      for (const event of group) await healOne(deps, event, report);
    }
  }
  return report;
}

async function healOne(deps: JourneyRoutingDeps, event: StoredEvent, report: HealReport) {
  try {
    await processStoredEvents(deps, [event], { onlyIfNewer: true });
    report.healed += 1;
  } catch (error) {
    const attempts = event.healAttempts + 1;
    log.warn("self-healing failed for an event", { eventId: event.id, attempts, ...errorFields(error) });
    if (attempts < HEAL_MAX_ATTEMPTS) return;
    await recordDeadLetter(
      deps.db,
      { queue: HEAL_DEAD_LETTER_QUEUE, messageId: event.id, body: { eventId: event.id }, attempts },
      { subject: `event:${event.id}`, error: `Event could not be processed: ${String(error)}` },
    );
    report.deadLettered += 1;
  }
}
