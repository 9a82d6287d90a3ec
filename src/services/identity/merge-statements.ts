import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { mergeExceeds } from "../contact-properties";

export type MergeSpec = {
  mergeId: string;
  /** The two contacts' ids, as SQL: literals for an admin merge, lookups for a PostHog link. */
  from: SQL;
  into: SQL;
  source: "admin" | "posthog";
  /** Fill `into`'s missing address from `from` (never for PostHog: a browser can't move an address). */
  moveAddress: boolean;
  /** More that must hold for anything to happen (a PostHog link: its event still pending). */
  when?: SQL;
  now: Date;
};

/** What a merge moves, counted in SQL over the rows as they are when it runs. */
export const movedCounts = (fromId: SQL, fromKey: SQL) => sql`json_object(
  'events', (SELECT count(*) FROM events WHERE user_id = ${fromKey}),
  'emails', (SELECT count(*) FROM emails WHERE user_id = ${fromKey}),
  'enrollments', (SELECT count(*) FROM enrollments WHERE user_id = ${fromKey}),
  'aliases', 1 + (SELECT count(*) FROM contact_aliases WHERE contact_id = ${fromId}),
  'changes', (SELECT count(*) FROM contact_changes WHERE contact_id = ${fromId}))`;

/**
 * A merge as statements for one D1 batch (one transaction). Every statement holds only while both
 * contacts exist and differ, and the deletion of `from` comes last: a merge racing another merge
 * of the same contact, or repeated, changes nothing. In order: the merge record (with what moves),
 * running enrollments `into` also has in the same journey end (`merged`: one stays), then events,
 * enrollments, emails and the change history move to `into`'s key, `from`'s aliases and ids
 * become `into`'s aliases, `into` fills missing properties, address and opt-out from `from`, a
 * suppression of `from`'s address covers `into`'s, and `from` goes.
 * Decodes (by position) to: [0] the record's `moved` JSON, [1] the ended enrollments' ids.
 */
export function mergeStatements(db: Database, spec: MergeSpec) {
  const { from, into } = spec;
  const at = spec.now.getTime();
  const fromKey = sql`(SELECT external_id FROM contacts WHERE id = ${from})`;
  const intoKey = sql`(SELECT external_id FROM contacts WHERE id = ${into})`;
  const both = sql`(EXISTS (SELECT 1 FROM contacts WHERE id = ${from}) AND EXISTS (SELECT 1 FROM contacts WHERE id = ${into})
    AND ${from} <> ${into} ${spec.when ? sql`AND ${spec.when}` : sql``})`;
  const running = sql`status IN ('active', 'waiting')`;
  return [
    db.all<{
      moved: string;
    }>(sql`INSERT INTO contact_merges (id, into_contact_id, from_contact_id, from_external_id, source, moved, merged_at)
      SELECT ${spec.mergeId}, ${into}, ${from}, ${fromKey}, ${spec.source}, ${movedCounts(from, fromKey)}, ${at}
      WHERE ${both} RETURNING moved`),
    db.all<{ id: string }>(sql`UPDATE enrollments SET status = 'exited', exit_reason = 'merged', waiting_for = NULL,
        finished_at = ${at}, updated_at = ${at}
      WHERE user_id = ${fromKey} AND ${running} AND ${both}
        AND journey_key IN (SELECT journey_key FROM enrollments WHERE user_id = ${intoKey} AND ${running})
      RETURNING id`),
    ...["events", "enrollments", "emails"].map((table) =>
      db.run(sql`UPDATE ${sql.raw(table)} SET user_id = ${intoKey} WHERE user_id = ${fromKey} AND ${both}`),
    ),
    db.run(sql`UPDATE contact_changes SET contact_id = ${into} WHERE contact_id = ${from} AND ${both}`),
    db.run(sql`UPDATE contact_aliases SET contact_id = ${into} WHERE contact_id = ${from} AND ${both}`),
    db.run(sql`INSERT INTO contact_aliases (alias, contact_id, kind, created_at)
      SELECT ${fromKey}, ${into}, ${spec.source === "posthog" ? "posthog_anonymous" : "merged"}, ${at} WHERE ${both}
      ON CONFLICT (alias) DO UPDATE SET contact_id = excluded.contact_id`),
    ...(spec.moveAddress
      ? [
          db.run(sql`INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
            SELECT i.id, 'email', NULL, f.email, ${spec.source}, NULL, ${at} FROM contacts i, contacts f
            WHERE i.id = ${into} AND f.id = ${from} AND i.email IS NULL AND f.email IS NOT NULL AND ${both}`),
        ]
      : []),
    db.run(sql`UPDATE contacts SET
        properties = (SELECT CASE WHEN ${mergeExceeds(sql`contacts.properties`, sql`f.properties`)} THEN contacts.properties
          ELSE json_patch(f.properties, contacts.properties) END FROM contacts f WHERE f.id = ${from}),
        ${spec.moveAddress ? sql`email = coalesce(email, (SELECT email FROM contacts f WHERE f.id = ${from})),` : sql``}
        unsubscribed_at = coalesce(unsubscribed_at, (SELECT unsubscribed_at FROM contacts f WHERE f.id = ${from})),
        first_seen_at = coalesce(min(first_seen_at, (SELECT first_seen_at FROM contacts f WHERE f.id = ${from})),
          first_seen_at, (SELECT first_seen_at FROM contacts f WHERE f.id = ${from})),
        last_seen_at = coalesce(max(last_seen_at, (SELECT last_seen_at FROM contacts f WHERE f.id = ${from})),
          last_seen_at, (SELECT last_seen_at FROM contacts f WHERE f.id = ${from})),
        updated_at = ${at}
      WHERE id = ${into} AND ${both}`),
    db.run(sql`INSERT INTO suppressions (email, reason, created_at)
      SELECT lower(trim(i.email)), s.reason, ${at} FROM contacts i, contacts f
        JOIN suppressions s ON s.email = lower(trim(f.email))
      WHERE i.id = ${into} AND f.id = ${from} AND i.email IS NOT NULL AND ${both}
      ON CONFLICT (email) DO NOTHING`),
    // Topic choices follow the person: into's stand, from's fill the topics into never chose on,
    // and a "no" from either wins (like an unsubscribe of either).
    db.run(sql`INSERT INTO topic_preferences (contact_id, topic_key, subscribed, source, updated_at)
      SELECT ${into}, topic_key, subscribed, source, updated_at FROM topic_preferences WHERE contact_id = ${from} AND ${both}
      ON CONFLICT (contact_id, topic_key) DO UPDATE SET subscribed = 0, source = excluded.source, updated_at = excluded.updated_at
      WHERE excluded.subscribed = 0 AND topic_preferences.subscribed = 1`),
    db.run(sql`DELETE FROM topic_preferences WHERE contact_id = ${from} AND ${both}`),
    db.run(sql`DELETE FROM contacts WHERE id = ${from} AND ${both}`),
  ];
}
