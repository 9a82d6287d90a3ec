import type { BatchStatement, Database } from "../../db/client";
import type { StoredEvent } from "../../db/schema";
import { claimStatements } from "./claims";
import { postHogLinkStatements, postHogLinksOf } from "./posthog-links";

/**
 * What events decide about who a person is, as statements around their contact upserts in the
 * events' own batch: `before` them, the claim of email-keyed contacts (never by a PostHog event:
 * anyone can send one) and PostHog's merges and renames; `after` them, PostHog's aliases.
 */
export function eventIdentityStatements(
  db: Database,
  events: StoredEvent[],
  now: Date,
): { before: BatchStatement[]; after: BatchStatement[] } {
  const claimable = events.filter((event) => event.source !== "posthog");
  const links = postHogLinksOf(events).map((link) => postHogLinkStatements(db, link, now));
  return {
    before: [
      ...claimStatements(
        db,
        claimable.map((event) => ({ userId: event.userId, email: event.userEmail, eventId: event.id })),
        now,
      ),
      ...links.flatMap((link) => link.before),
    ],
    after: links.flatMap((link) => link.after),
  };
}
