import { sql } from "drizzle-orm";
import type { BatchStatement, Database } from "../../db/client";
import { eventPending } from "../../db/guarded";
import { personKey } from "../../db/person-key";
import type { StoredEvent } from "../../db/schema";
import { newId } from "../../lib/ids";
import { mergeStatements } from "./merge-statements";

/** PostHog says two of its ids are one person: `anonymous` (the earlier id) is now `distinctId`'s. */
export type PostHogLink = { eventId: string; distinctId: string; anonymous: string };

/**
 * The links PostHog events carry: `$identify` with `$anon_distinct_id` (a browser's anonymous id
 * becoming a user's), and `$create_alias` with `alias` (another id of the same user).
 */
export function postHogLinksOf(events: Array<Pick<StoredEvent, "id" | "event" | "userId" | "properties" | "source">>) {
  return events.flatMap((event): PostHogLink[] => {
    if (event.source !== "posthog") return [];
    const other =
      event.event === "$identify"
        ? event.properties.$anon_distinct_id
        : event.event === "$create_alias"
          ? event.properties.alias
          : undefined;
    if (typeof other !== "string" || other === "" || other === event.userId) return [];
    return [{ eventId: event.id, distinctId: event.userId, anonymous: other }];
  });
}

/**
 * A link's statements for the event's own D1 batch, each only while its event is pending: `before`
 * the event's contact upsert, the anonymous contact is merged into the identified person (when both
 * exist) or renamed to the identified id (when only it exists; the rekey trigger keeps the anonymous
 * id as an alias and moves its rows); `after` it, an anonymous id with no contact becomes an alias
 * of the person, and its stored events (anonymous events may create no contact) move to them.
 * Never by address, and no address moves: anyone holding the public project key can send these.
 */
export function postHogLinkStatements(db: Database, link: PostHogLink, now: Date) {
  const pending = eventPending(link.eventId);
  const person = personKey(link.distinctId);
  const anonymousContact = sql`(SELECT id FROM contacts WHERE external_id = ${link.anonymous})`;
  const personContact = sql`(SELECT id FROM contacts WHERE external_id = ${person})`;
  const before: BatchStatement[] = [
    ...mergeStatements(db, {
      mergeId: newId(),
      from: anonymousContact,
      into: personContact,
      source: "posthog",
      moveAddress: false,
      when: pending,
      now,
    }),
    db.run(sql`UPDATE contacts SET external_id = ${link.distinctId}, updated_at = ${now.getTime()}
      WHERE external_id = ${link.anonymous} AND ${pending}
        AND NOT EXISTS (SELECT 1 FROM contacts WHERE external_id = ${link.distinctId})
        AND NOT EXISTS (SELECT 1 FROM contact_aliases WHERE alias = ${link.distinctId})`),
  ];
  const after: BatchStatement[] = [
    db.run(sql`UPDATE contact_aliases SET kind = 'posthog_anonymous' WHERE alias = ${link.anonymous}
      AND contact_id = ${personContact} AND kind = 'previous_id' AND ${pending}`),
    db.run(sql`INSERT INTO contact_aliases (alias, contact_id, kind, created_at)
      SELECT ${link.anonymous}, c.id, 'posthog_anonymous', ${now.getTime()} FROM contacts c
      WHERE c.external_id = ${person} AND ${pending}
        AND NOT EXISTS (SELECT 1 FROM contacts WHERE external_id = ${link.anonymous})
      ON CONFLICT (alias) DO NOTHING`),
    db.run(sql`UPDATE events SET user_id = ${person} WHERE user_id = ${link.anonymous} AND ${pending}
      AND EXISTS (SELECT 1 FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
        WHERE a.alias = ${link.anonymous} AND c.external_id = ${person})`),
  ];
  return { before, after };
}
