import type { Database } from "../db/client";
import type { StoredEvent } from "../db/schema";

export type JourneyEntry = { journey: string; enrollmentId: string };
export type JourneyExit = { journey: string; enrollmentId: string };
export type RoutingOutcome = { journeys: JourneyEntry[]; exits: JourneyExit[] };

export type RouteDeps = { db: Database };

/**
 * The journey stage of the pipeline: exit checks, delivery to waiting journeys, and entry.
 * Journeys are not defined yet, so every event routes to nothing; the stage and its place in the
 * pipeline (after the contact upsert, before the event is marked processed) are fixed here.
 */
export async function routeEvents(_deps: RouteDeps, stored: StoredEvent[]): Promise<Map<string, RoutingOutcome>> {
  return new Map(stored.map((event) => [event.id, { journeys: [], exits: [] }]));
}
