import { notFound } from "../lib/errors";
import type { JourneyDefinition } from "./define";
import { activationWelcome } from "./definitions/activation-welcome";
import { cartRecovery } from "./definitions/cart-recovery";
import { weeklyDigest } from "./definitions/weekly-digest";

/** Every journey the engine runs. Add a definition here to ship it. */
export const journeys: readonly JourneyDefinition[] = [activationWelcome, cartRecovery, weeklyDigest];

const byKey = new Map(journeys.map((j) => [j.key, j]));
if (byKey.size !== journeys.length) throw new Error("Two journeys share a key");

export function findJourney(key: string): JourneyDefinition | undefined {
  return byKey.get(key);
}

export function getJourney(key: string): JourneyDefinition {
  const journey = byKey.get(key);
  if (!journey) throw notFound(`Journey "${key}"`);
  return journey;
}
