import { type BatchPlan, plan, rows, runPlans, sequence, writes } from "../db/batch-plan";
import type { BatchStatement, Database } from "../db/client";
import type { StoredEvent } from "../db/schema";
import { matchesEvent } from "../journeys/conditions";
import type { JourneyDefinition } from "../journeys/define";
import { journeys } from "../journeys/registry";
import type { KeyedHash } from "../lib/keyed-hash";
import { exitStatements, runningEnrollmentStatements } from "../services/enrollment-exits";
import { type WaitingEnrollment, waitingForStatements } from "../services/enrollments";
import { type EntryDecision, enterPlan, previewEntriesPlan, type SkipReason } from "../services/entry-guards";
import { hashedAddresses } from "../services/suppressions";
import {
  createInstances,
  deliverToWaiting,
  enqueueStarts,
  startEnrollments,
  stopInstances,
  type WorkflowDeps,
} from "../services/workflow-instances";

export type JourneyEntry = { journey: string; enrollmentId: string };
export type JourneyExit = { journey: string; enrollmentId: string };
export type JourneySkip = { journey: string; reason: SkipReason };
export type RoutingOutcome = { journeys: JourneyEntry[]; exits: JourneyExit[]; skipped: JourneySkip[] };

export type JourneyRoutingDeps = WorkflowDeps & { db: Database; hash: KeyedHash };

export type RoutableEvent = Pick<StoredEvent, "id" | "event" | "userId" | "properties" | "occurredAt"> & {
  userEmail?: string | null;
  /** An unidentified visitor's event enters, leaves and wakes no journey. */
  anonymous?: boolean;
};

/** Event id → `hashedAddress` of the event's address (entry guards see hashed suppressions by it). */
export type AddressHashes = Map<string, string | null>;

const TRIGGER_EVENTS = new Set(journeys.map((journey) => journey.trigger.event));

/** Only events that trigger a journey reach an entry guard, so only their addresses are hashed. */
export async function eventAddressHashes(hash: KeyedHash, events: RoutableEvent[]): Promise<AddressHashes> {
  const triggering = events.filter((event) => event.userEmail && TRIGGER_EVENTS.has(event.event));
  const hashes = await hashedAddresses(
    hash,
    triggering.map((event) => event.userEmail),
  );
  return new Map(triggering.map((event, i) => [event.id, hashes[i]!]));
}

type RoutingOptions = {
  dryRun?: boolean;
  /** Decide only for events still stored and unprocessed (ingest, self-healing): see db/guarded. */
  onlyPending?: boolean;
  /** From `eventAddressHashes`, computed before the batch is built (hashing is async). */
  addressHashes?: AddressHashes;
  /** Writes that commit with the decisions, ahead of them (a replay's audit entry). */
  before?: BatchStatement[];
};

type Decided = { exits: ExitOutcome[]; waiting: WaitingEnrollment[]; entries: EntryOutcome[] };

/** The routing decisions as statements for the caller's D1 batch. */
export function routingPlan(db: Database, all: RoutableEvent[], options: RoutingOptions = {}): BatchPlan<Decided> {
  const events = all.filter((event) => !event.anonymous);
  const dryRun = options.dryRun ?? false;
  const onlyIfEventPending = options.onlyPending ?? false;
  const addressHashes = options.addressHashes ?? new Map();
  const decide = sequence(
    exitsPlan(db, events, { dryRun, onlyIfEventPending }),
    rows<WaitingEnrollment>(waitingForStatements(db, events, { onlyIfEventPending })),
    entriesPlan(db, events, { dryRun, onlyIfEventPending, addressHashes }),
  );
  return plan(decide.statements, (results) => {
    const [exits, waiting, entries] = decide.decode(results);
    return { exits, waiting, entries };
  });
}

/** What the decisions mean for each event's response. */
export function routingOutcomes(events: RoutableEvent[], decided: Decided): Map<string, RoutingOutcome> {
  const outcomes = new Map<string, RoutingOutcome>(events.map((e) => [e.id, { journeys: [], exits: [], skipped: [] }]));
  for (const { eventId, ...exit } of decided.exits) outcomes.get(eventId)!.exits.push(exit);
  for (const { journey, decision } of decided.entries) {
    const outcome = outcomes.get(decision.triggerEventId!)!;
    if (decision.enrolled) outcome.journeys.push({ journey: journey.key, enrollmentId: decision.enrollmentId });
    else outcome.skipped.push({ journey: journey.key, reason: decision.reason });
  }
  return outcomes;
}

/**
 * Journey routing: exits, then delivery to waiting journeys, then entries, decided in one D1
 * batch whatever the number of events; then the workflow side effects (stop, notify, start).
 * With `dryRun` the same decisions are read but nothing is written and no workflow is touched
 * (would-be entries carry an empty enrollmentId).
 */
export async function routeToJourneys(
  deps: JourneyRoutingDeps,
  events: RoutableEvent[],
  options: RoutingOptions = {},
): Promise<Map<string, RoutingOutcome>> {
  const addressHashes = options.addressHashes ?? (await eventAddressHashes(deps.hash, events));
  const [, decided] = await runPlans(
    deps.db,
    writes(options.before ?? []),
    routingPlan(deps.db, events, { ...options, addressHashes }),
  );
  if (!options.dryRun) await applyToWorkflows(deps, events, decided);
  return routingOutcomes(events, decided);
}

type ExitOutcome = JourneyExit & { eventId: string };
type DecideOptions = { dryRun: boolean; onlyIfEventPending: boolean };

/** The running enrollments each event ends (or, in a dry run, would end): per journey, set-based. */
function exitsPlan(db: Database, events: RoutableEvent[], options: DecideOptions): BatchPlan<ExitOutcome[]> {
  const statements = journeys.flatMap((journey): BatchStatement[] => {
    const exiting = events.filter((event) =>
      journey.exitOn.some((matcher) => matchesEvent(matcher, event.event, event.properties)),
    );
    if (exiting.length === 0) return [];
    return options.dryRun
      ? runningEnrollmentStatements(db, journey.key, exiting)
      : exitStatements(db, journey.key, exiting, { onlyIfEventPending: options.onlyIfEventPending });
  });
  return plan(statements, (results) =>
    (results as Array<Array<{ id: string; journeyKey: string; eventId: string }>>).flat().map((row) => ({
      eventId: row.eventId,
      journey: row.journeyKey,
      enrollmentId: row.id,
    })),
  );
}

type EntryOutcome = { journey: JourneyDefinition; decision: EntryDecision };

/** Every journey's entry guards for the events that trigger it. */
function entriesPlan(
  db: Database,
  events: RoutableEvent[],
  options: DecideOptions & { addressHashes: AddressHashes },
): BatchPlan<EntryOutcome[]> {
  const perJourney = journeys.flatMap((journey) => {
    const triggered = events.filter((event) => event.event === journey.trigger.event);
    if (triggered.length === 0) return [];
    const candidates = triggered.map((event) => ({
      userId: event.userId,
      triggerEventId: event.id,
      triggerMatched: matchesEvent(journey.trigger, event.event, event.properties),
      emailHash: options.addressHashes.get(event.id) ?? null,
    }));
    const decide = options.dryRun
      ? previewEntriesPlan(db, journey, candidates)
      : enterPlan(db, journey, candidates, { source: "event", onlyIfEventPending: options.onlyIfEventPending });
    return [plan(decide.statements, (results) => decide.decode(results).map((decision) => ({ journey, decision })))];
  });
  const all = sequence(...perJourney);
  return plan(all.statements, (results) => all.decode(results).flat());
}

/**
 * The workflow side effects of committed decisions: stop exited, notify waiting, start entered.
 * With `defer` (a request's waitUntil) they leave the response path: starts are first handed to the
 * journey-start queue (durable, so a start is never lost), then tried at once in the background;
 * stops and waiting deliveries were always best effort (the D1 row is what counts).
 */
export async function applyToWorkflows(
  deps: JourneyRoutingDeps,
  events: RoutableEvent[],
  decided: Decided,
  defer?: (promise: Promise<unknown>) => void,
) {
  // An enrollment waiting for several of these events (its person's ids, aliases included) gets the first.
  const firstWaiting = new Map<string, number>();
  for (const enrollment of decided.waiting) {
    const at = events.findIndex((e) => e.id === enrollment.event_id);
    if (at >= 0 && at < (firstWaiting.get(enrollment.id) ?? Infinity)) firstWaiting.set(enrollment.id, at);
  }
  const deliveries = [...firstWaiting].flatMap(([enrollmentId, at]) => {
    const event = events[at]!;
    const payload = {
      eventId: event.id,
      event: event.event,
      properties: event.properties,
      occurredAt: event.occurredAt.toISOString(),
    };
    return [{ enrollmentId, event: event.event, payload }];
  });
  const entered = decided.entries.flatMap(({ decision }) => (decision.enrolled ? [decision.enrollmentId] : []));
  if (defer) {
    if (entered.length) await enqueueStarts(deps.journeyStarts, entered);
    defer(
      Promise.all([
        stopInstances(
          deps.workflow,
          decided.exits.map((exit) => exit.enrollmentId),
        ),
        deliverToWaiting(deps.workflow, deliveries),
        entered.length ? createInstances(deps.workflow, entered) : undefined,
      ]),
    );
    return;
  }
  await Promise.all([
    stopInstances(
      deps.workflow,
      decided.exits.map((exit) => exit.enrollmentId),
    ),
    deliverToWaiting(deps.workflow, deliveries),
    startEnrollments(deps, entered),
  ]);
}
