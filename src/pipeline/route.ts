import { createDb, runBatch, type BatchStatement, type Database } from "../db/client";
import type { StoredEvent } from "../db/schema";
import { matchesEvent } from "../journeys/conditions";
import { journeys } from "../journeys/registry";
import { startEnrollments, stopInstances, type StarterDeps } from "../journeys/starter";
import { entryStatements, exitStatement, runningEnrollmentStatement, waitingForStatements, type EntryDecision, type SkipReason, type WaitingEnrollment } from "../services/enrollments";
import { workflowEventType } from "../journeys/workflow-events";

export type JourneyEntry = { journey: string; enrollmentId: string };
export type JourneyExit = { journey: string; enrollmentId: string };
export type JourneySkip = { journey: string; reason: SkipReason };
export type RoutingOutcome = { journeys: JourneyEntry[]; exits: JourneyExit[]; skipped: JourneySkip[] };

export type RouteDeps = StarterDeps & { db: Database };

/** Routing's dependencies from the bindings; a request passes its own (round-trip counted) db. */
export function routeDepsFromEnv(env: Env, db: Database = createDb(env.DB)): RouteDeps {
  return { db, workflow: env.JOURNEY_WORKFLOW, journeyStarts: env.JOURNEY_STARTS_QUEUE };
}

export type RoutableEvent = Pick<StoredEvent, "id" | "event" | "userId" | "properties" | "occurredAt">;

/**
 * The journey stage: exits, then delivery to waiting journeys, then entries, decided in one D1
 * batch whatever the number of events; then the workflow side effects (stop, notify, start).
 * With `dryRun` the same decisions are read but nothing is written and no workflow is touched
 * (would-be entries carry an empty enrollmentId). `before` statements run first in the same batch
 * (ingest's contact upserts: the guards then see the contact as this event leaves it).
 */
export async function routeEvents(
  deps: RouteDeps,
  events: RoutableEvent[],
  options: { dryRun?: boolean; before?: BatchStatement[] } = {},
): Promise<Map<string, RoutingOutcome>> {
  const before = options.before ?? [];
  const dryRun = options.dryRun ?? false;
  const { db } = deps;
  const outcomes = new Map<string, RoutingOutcome>(events.map((e) => [e.id, { journeys: [], exits: [], skipped: [] }]));
  if (events.length === 0) {
    await runBatch(db, before);
    return outcomes;
  }

  const exitChecks = events.flatMap((event) =>
    journeys
      .filter((journey) => journey.exitOn.some((matcher) => matchesEvent(matcher, event.event, event.properties)))
      .map((journey) => ({
        event,
        statement: dryRun
          ? runningEnrollmentStatement(db, journey.key, event.userId)
          : exitStatement(db, journey.key, event.userId, { reason: `event:${event.event}`, eventId: event.id }),
      })),
  );
  const waitLookups = waitingForStatements(db, events.map((e) => ({ userId: e.userId, event: e.event })));
  const entryPlans = journeys.flatMap((journey) => {
    const triggered = events.filter((event) => event.event === journey.trigger.event);
    if (triggered.length === 0) return [];
    const plan = entryStatements(
      db,
      journey,
      triggered.map((event) => ({
        userId: event.userId,
        triggerEventId: event.id,
        triggerMatched: matchesEvent(journey.trigger, event.event, event.properties),
      })),
      { source: "event", dryRun },
    );
    return [{ journey, plan }];
  });

  const results = await runBatch(db, [
    ...before,
    ...exitChecks.map((check) => check.statement),
    ...waitLookups,
    ...entryPlans.flatMap(({ plan }) => plan.statements),
  ]);

  let cursor = before.length;
  const exited: string[] = [];
  for (const check of exitChecks) {
    for (const row of results[cursor++] as Array<{ id: string; journeyKey: string }>) {
      outcomes.get(check.event.id)!.exits.push({ journey: row.journeyKey, enrollmentId: row.id });
      exited.push(row.id);
    }
  }
  const waiting = results.slice(cursor, cursor + waitLookups.length).flat() as WaitingEnrollment[];
  cursor += waitLookups.length;
  const entered: string[] = [];
  for (const { journey, plan } of entryPlans) {
    const decisions: EntryDecision[] = plan.decisions(results.slice(cursor, cursor + plan.statements.length));
    cursor += plan.statements.length;
    for (const decision of decisions) {
      const outcome = outcomes.get(decision.triggerEventId!)!;
      if (decision.enrolled) {
        outcome.journeys.push({ journey: journey.key, enrollmentId: decision.enrollmentId });
        entered.push(decision.enrollmentId);
      } else {
        outcome.skipped.push({ journey: journey.key, reason: decision.reason });
      }
    }
  }

  if (dryRun) return outcomes;
  await Promise.all([
    stopInstances(deps.workflow, exited),
    notifyWaiting(deps.workflow, waiting, events),
    startEnrollments(deps, entered),
  ]);
  return outcomes;
}

async function notifyWaiting(workflow: Workflow, waiting: WaitingEnrollment[], events: RoutableEvent[]) {
  await Promise.all(
    waiting.map(async (enrollment) => {
      const event = events.find((e) => e.userId === enrollment.user_id && e.event === enrollment.waiting_for);
      if (!event) return;
      const payload = { eventId: event.id, event: event.event, properties: event.properties, occurredAt: event.occurredAt.toISOString() };
      try {
        // The payload travels as JSON text, as the workflow's steps keep it (see doJson).
        await (await workflow.get(enrollment.id)).sendEvent({ type: workflowEventType(event.event), payload: JSON.stringify(payload) });
      } catch (error) {
        console.warn(JSON.stringify({ level: "warn", enrollmentId: enrollment.id, message: "sendEvent failed", error: String(error) }));
      }
    }),
  );
}
