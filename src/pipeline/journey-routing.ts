import { type BatchPlan, plan, rows, runPlans, sequence, writes } from "../db/batch-plan";
import type { BatchStatement, Database } from "../db/client";
import type { StoredEvent } from "../db/schema";
import { matchesEvent } from "../journeys/conditions";
import type { JourneyDefinition } from "../journeys/define";
import { journeys } from "../journeys/registry";
import {
  exitStatement,
  runningEnrollmentStatement,
  type WaitingEnrollment,
  waitingForStatements,
} from "../services/enrollments";
import { type EntryDecision, enterPlan, previewEntriesPlan, type SkipReason } from "../services/entry-guards";
import { deliverToWaiting, startEnrollments, stopInstances, type WorkflowDeps } from "../services/workflow-instances";

export type JourneyEntry = { journey: string; enrollmentId: string };
export type JourneyExit = { journey: string; enrollmentId: string };
export type JourneySkip = { journey: string; reason: SkipReason };
export type RoutingOutcome = { journeys: JourneyEntry[]; exits: JourneyExit[]; skipped: JourneySkip[] };

export type JourneyRoutingDeps = WorkflowDeps & { db: Database };

export type RoutableEvent = Pick<StoredEvent, "id" | "event" | "userId" | "properties" | "occurredAt">;

type RoutingOptions = { dryRun?: boolean; before?: BatchStatement[] };

/**
 * Journey routing: exits, then delivery to waiting journeys, then entries, decided in one D1
 * batch whatever the number of events; then the workflow side effects (stop, notify, start).
 * With `dryRun` the same decisions are read but nothing is written and no workflow is touched
 * (would-be entries carry an empty enrollmentId). `before` statements run first in the same batch
 * (ingest's contact upserts: the guards then see the contact as this event leaves it).
 */
export async function routeToJourneys(
  deps: JourneyRoutingDeps,
  events: RoutableEvent[],
  options: RoutingOptions = {},
): Promise<Map<string, RoutingOutcome>> {
  const dryRun = options.dryRun ?? false;
  const outcomes = new Map<string, RoutingOutcome>(events.map((e) => [e.id, { journeys: [], exits: [], skipped: [] }]));
  const [, exits, waiting, entries] = await runPlans(
    deps.db,
    writes(options.before ?? []),
    exitsPlan(deps.db, events, dryRun),
    rows<WaitingEnrollment>(waitingForStatements(deps.db, events)),
    entriesPlan(deps.db, events, dryRun),
  );
  for (const { eventId, ...exit } of exits) outcomes.get(eventId)!.exits.push(exit);
  for (const { journey, decision } of entries) {
    const outcome = outcomes.get(decision.triggerEventId!)!;
    if (decision.enrolled) outcome.journeys.push({ journey: journey.key, enrollmentId: decision.enrollmentId });
    else outcome.skipped.push({ journey: journey.key, reason: decision.reason });
  }
  if (!dryRun) await applyToWorkflows(deps, events, { exits, waiting, entries });
  return outcomes;
}

type ExitOutcome = JourneyExit & { eventId: string };

/** The running enrollments each event ends (or, in a dry run, would end). */
function exitsPlan(db: Database, events: RoutableEvent[], dryRun: boolean): BatchPlan<ExitOutcome[]> {
  const checks = events.flatMap((event) =>
    journeys
      .filter((journey) => journey.exitOn.some((matcher) => matchesEvent(matcher, event.event, event.properties)))
      .map((journey) => ({
        event,
        statement: dryRun
          ? runningEnrollmentStatement(db, journey.key, event.userId)
          : exitStatement(db, journey.key, event.userId, { reason: `event:${event.event}`, eventId: event.id }),
      })),
  );
  return plan(
    checks.map((check) => check.statement),
    (results) =>
      checks.flatMap((check, i) =>
        (results[i] as Array<{ id: string; journeyKey: string }>).map((row) => ({
          eventId: check.event.id,
          journey: row.journeyKey,
          enrollmentId: row.id,
        })),
      ),
  );
}

type EntryOutcome = { journey: JourneyDefinition; decision: EntryDecision };

/** Every journey's entry guards for the events that trigger it. */
function entriesPlan(db: Database, events: RoutableEvent[], dryRun: boolean): BatchPlan<EntryOutcome[]> {
  const perJourney = journeys.flatMap((journey) => {
    const triggered = events.filter((event) => event.event === journey.trigger.event);
    if (triggered.length === 0) return [];
    const candidates = triggered.map((event) => ({
      userId: event.userId,
      triggerEventId: event.id,
      triggerMatched: matchesEvent(journey.trigger, event.event, event.properties),
    }));
    const decide = dryRun
      ? previewEntriesPlan(db, journey, candidates)
      : enterPlan(db, journey, candidates, { source: "event" });
    return [plan(decide.statements, (results) => decide.decode(results).map((decision) => ({ journey, decision })))];
  });
  const all = sequence(...perJourney);
  return plan(all.statements, (results) => all.decode(results).flat());
}

/** The workflow side effects of committed decisions: stop exited, notify waiting, start entered. */
async function applyToWorkflows(
  deps: JourneyRoutingDeps,
  events: RoutableEvent[],
  decided: { exits: ExitOutcome[]; waiting: WaitingEnrollment[]; entries: EntryOutcome[] },
) {
  const deliveries = decided.waiting.flatMap((enrollment) => {
    const event = events.find((e) => e.userId === enrollment.user_id && e.event === enrollment.waiting_for);
    if (!event) return [];
    const payload = {
      eventId: event.id,
      event: event.event,
      properties: event.properties,
      occurredAt: event.occurredAt.toISOString(),
    };
    return [{ enrollmentId: enrollment.id, event: event.event, payload }];
  });
  const entered = decided.entries.flatMap(({ decision }) => (decision.enrolled ? [decision.enrollmentId] : []));
  await Promise.all([
    stopInstances(
      deps.workflow,
      decided.exits.map((exit) => exit.enrollmentId),
    ),
    deliverToWaiting(deps.workflow, deliveries),
    startEnrollments(deps, entered),
  ]);
}
