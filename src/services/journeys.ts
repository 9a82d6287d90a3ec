import { eq } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { journeySettings } from "../db/schema";
import type { JourneyDefinition } from "../journeys/define";
import { getJourney, journeys } from "../journeys/registry";
import { type AuditDraft, auditStatements } from "./audit-log";
import { countByJourneyAndStatus, noEnrollments } from "./enrollments";

function describe(journey: JourneyDefinition, override: boolean | undefined, counts = noEnrollments()) {
  return {
    key: journey.key,
    name: journey.name,
    description: journey.description,
    enabled: override ?? journey.enabled,
    enabledInCode: journey.enabled,
    enabledOverride: override ?? null,
    trigger: journey.trigger,
    entryLimit: journey.entryLimit,
    entryPeriod: journey.entryPeriod ?? null,
    exitOn: journey.exitOn,
    enrollments: counts,
  };
}

export type JourneySummary = ReturnType<typeof describe>;

async function overrides(db: Database) {
  const rows = await db.select().from(journeySettings);
  return new Map(rows.map((row) => [row.journeyKey, row.enabled]));
}

export async function listJourneys(db: Database): Promise<JourneySummary[]> {
  const [byKey, counts] = await Promise.all([overrides(db), countByJourneyAndStatus(db)]);
  return journeys.map((journey) => describe(journey, byKey.get(journey.key), counts.get(journey.key)));
}

export async function describeJourney(db: Database, key: string): Promise<JourneySummary> {
  const journey = getJourney(key);
  const [byKey, counts] = await Promise.all([overrides(db), countByJourneyAndStatus(db)]);
  return describe(journey, byKey.get(key), counts.get(key));
}

/** `enabled: null` removes the admin override, so the definition's own flag applies again. */
export async function setJourneyEnabled(
  db: Database,
  key: string,
  enabled: boolean | null,
  options: { audit?: AuditDraft } = {},
): Promise<JourneySummary> {
  getJourney(key);
  const now = new Date();
  const write =
    enabled === null
      ? db.delete(journeySettings).where(eq(journeySettings.journeyKey, key))
      : db
          .insert(journeySettings)
          .values({ journeyKey: key, enabled, updatedAt: now })
          .onConflictDoUpdate({ target: journeySettings.journeyKey, set: { enabled, updatedAt: now } });
  await runBatch(db, [...auditStatements(db, options.audit), write]);
  return describeJourney(db, key);
}
