import { and, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { eventPending } from "../db/guarded";
import { personKey } from "../db/person-key";
import { type ContactChange, type ContactChangeSource, contactChanges } from "../db/schema";

export const CHANGES_SHOWN = 20;

type Field = ContactChange["field"];

/** A contact's latest changes of the given fields, newest first. */
export function recentChanges(db: Database, contactId: string, fields: Field[], limit = CHANGES_SHOWN) {
  return db
    .select({
      field: contactChanges.field,
      from: contactChanges.oldValue,
      to: contactChanges.newValue,
      source: contactChanges.source,
      eventId: contactChanges.eventId,
      at: contactChanges.changedAt,
    })
    .from(contactChanges)
    .where(and(eq(contactChanges.contactId, contactId), inArray(contactChanges.field, fields)))
    .orderBy(desc(contactChanges.id))
    .limit(limit);
}

/**
 * Records a change of one field for the contact `contactId` (its id) only when `when` holds over
 * the contact row `c` before the change: put it ahead of the statement that makes the change, in
 * the same batch. `from` and `to` are SQL over `c`.
 */
export function recordChangeStatement(
  db: Database,
  change: { contactId: string; field: Field; from: SQL; to: SQL; source: ContactChangeSource; when: SQL; now: Date },
) {
  return db.run(sql`INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
    SELECT c.id, ${change.field}, ${change.from}, ${change.to}, ${change.source}, NULL, ${change.now.getTime()}
    FROM contacts c WHERE c.id = ${change.contactId} AND (${change.when})`);
}

/**
 * Whether PostHog made the latest recorded change of the contact's (`contactId`, SQL) address:
 * only then may a PostHog event replace it (POSTHOG_EMAIL_POLICY=replace). An address from an
 * authenticated source, or one the contact was created with, has no such record.
 */
export const addressSetByPostHog = (contactId: SQL): SQL =>
  sql`coalesce((SELECT cc.source FROM contact_changes cc WHERE cc.contact_id = ${contactId} AND cc.field = 'email'
    ORDER BY cc.id DESC LIMIT 1) = 'posthog', 0)`;

export type AddressWrite = {
  externalId: string;
  email: string;
  source: ContactChangeSource;
  eventId: string | null;
  seenAt: Date | null;
  /** Record only while this event is stored and unprocessed (ingest's one-round-trip batch). */
  pendingEventId?: string | null;
};

/** Rows per recording statement: they travel as one JSON parameter, not as bound parameters. */
export const ADDRESS_WRITES_PER_STATEMENT = 500;

/**
 * Records the address changes a contact upsert of these rows will make (run it just before the
 * upsert, in the same batch): an existing contact whose address differs, and, unless `replace`,
 * only one that has no address yet. `onlyIfNewer` mirrors the upsert's own condition. No
 * externalId may appear twice in `writes`.
 */
export function recordAddressChangesStatement(
  db: Database,
  writes: AddressWrite[],
  options: { replace: boolean | "untrusted"; onlyIfNewer: boolean; now: Date },
) {
  const rows = JSON.stringify(
    writes.map((w) => [
      w.externalId,
      w.email,
      w.source,
      w.eventId,
      w.seenAt?.getTime() ?? null,
      w.pendingEventId ?? null,
    ]),
  );
  return recordAddressChangesFrom(
    db,
    sql`SELECT json_extract(value, '$[0]') AS external_id, json_extract(value, '$[1]') AS email,
        json_extract(value, '$[2]') AS source, json_extract(value, '$[3]') AS event_id,
        json_extract(value, '$[4]') AS seen_at, json_extract(value, '$[5]') AS pending_event_id
      FROM json_each(${rows})`,
    { ...options, onlyIfEventsPending: writes.some((w) => w.pendingEventId) },
  );
}

/**
 * recordAddressChangesStatement over rows given as SQL: `writes` selects external_id, email
 * (never NULL), source, event_id and seen_at, no externalId twice (and pending_event_id with
 * `onlyIfEventsPending`). An import's changes are recorded by a trigger instead (migrations/0011).
 */
function recordAddressChangesFrom(
  db: Database,
  writes: SQL,
  options: {
    replace: boolean | "untrusted";
    onlyIfNewer: boolean;
    now: Date;
    onlyIfEventsPending?: boolean;
  },
) {
  return db.run(sql`WITH w AS (${writes})
    INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
    SELECT c.id, 'email', c.email, w.email, w.source, w.event_id, ${options.now.getTime()}
    FROM w JOIN contacts c ON c.external_id = ${personKey(sql`w.external_id`)}
    WHERE lower(trim(c.email)) IS NOT lower(trim(w.email))
      ${options.onlyIfEventsPending ? sql`AND (w.pending_event_id IS NULL OR ${eventPending(sql`w.pending_event_id`)})` : sql``}
      ${options.replace === true ? sql`` : options.replace ? sql`AND (c.email IS NULL OR ${addressSetByPostHog(sql`c.id`)})` : sql`AND c.email IS NULL`}
      ${options.onlyIfNewer ? sql`AND (c.last_seen_at IS NULL OR c.last_seen_at <= w.seen_at)` : sql``}`);
}
