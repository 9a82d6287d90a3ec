import { and, asc, eq, gte, not } from "drizzle-orm";
import type { Database } from "../db/client";
import { personKey } from "../db/person-key";
import { contacts, events, type Properties, type StoredEvent } from "../db/schema";
import { machineEngagement } from "./engagement";

/** The person a journey runs for, as its steps see them (no contact yet: no address, no properties). */
export async function journeyUser(
  db: Database,
  userId: string,
): Promise<{ userId: string; email: string | null; properties: Properties }> {
  const [contact] = await db
    .select()
    .from(contacts)
    .where(eq(contacts.externalId, personKey(userId)))
    .limit(1);
  return { userId, email: contact?.email ?? null, properties: contact?.properties ?? {} };
}

/**
 * The user's first `event` that occurred at or after `since` (a journey's "has done" / earlier
 * wait). A machine's open or click is not the user's doing.
 */
export async function firstEventSince(
  db: Database,
  query: { userId: string; event: string; since: Date },
): Promise<StoredEvent | undefined> {
  const [row] = await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.userId, query.userId),
        eq(events.event, query.event),
        gte(events.occurredAt, query.since),
        not(machineEngagement),
      ),
    )
    .orderBy(asc(events.occurredAt))
    .limit(1);
  return row;
}
