import { and, asc, gt, or, type SQL, sql } from "drizzle-orm";
import { type BatchPlan, plan } from "../db/batch-plan";
import type { Database } from "../db/client";
import { pendingEventRows } from "../db/guarded";
import { personKey } from "../db/person-key";
import { type Contact, type ContactChangeSource, contacts, type Properties } from "../db/schema";
import { chunk, roundsByKey } from "../lib/chunk";
import { notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { chunkForParams, keysetPage, paramsPerRow } from "../lib/sql";
import {
  ADDRESS_WRITES_PER_STATEMENT,
  addressSetByPostHog,
  recentChanges,
  recordAddressChangesStatement,
} from "./contact-changes";
import { createdWith, propertiesSet, refusedMergesStatement } from "./contact-properties";
import { findByAddress, findByAnyId, identityOf } from "./identity/aliases";

/** `untrusted_replace`: replace only a missing address or one PostHog set last (POSTHOG_EMAIL_POLICY=replace). */
export type EmailPolicy = "replace" | "fill" | "untrusted_replace";
const EMAIL_POLICIES = ["replace", "fill", "untrusted_replace"] as const;

export type ContactUpsert = {
  externalId: string;
  email?: string | null;
  properties?: Properties;
  /** Keys set only where the contact has none (PostHog's `$set_once`); `properties` then merge over them. */
  setOnce?: Properties;
  /** When the contact was seen (an event's occurrence time); omitted for imports. */
  seenAt?: Date;
  /** Recorded with an address change this row makes; default: the options' source. */
  source?: ContactChangeSource;
  eventId?: string | null;
  /** `fill` only sets a missing address, never replaces one; default: the options' policy. */
  emailPolicy?: EmailPolicy;
  /** Upsert (and record) only while this event is stored and unprocessed (ingest's one-round-trip batch). */
  onlyIfEventPending?: string;
};

type UpsertOptions = {
  now?: Date;
  onlyIfNewer?: boolean;
  source?: ContactChangeSource;
  emailPolicy?: EmailPolicy;
};

// The same address in another spelling leaves the stored one as it is (addresses compare normalized).
const EMAIL_SET: Record<EmailPolicy, SQL> = {
  replace: sql`CASE WHEN lower(trim(excluded.email)) = lower(trim(${contacts.email})) THEN ${contacts.email} ELSE coalesce(excluded.email, ${contacts.email}) END`,
  fill: sql`coalesce(${contacts.email}, excluded.email)`,
  untrusted_replace: sql`CASE WHEN "contacts"."email" IS NULL OR ${addressSetByPostHog(sql.raw(`"contacts"."id"`))}
    THEN coalesce(excluded.email, "contacts"."email") ELSE "contacts"."email" END`,
};

/**
 * Multi-row upsert statements by externalId: properties merge (JSON merge patch, within the
 * contact caps: see contact-properties), email is only overwritten when given (and, with the
 * `fill` policy, only when missing), first/last seen widen. Every address change is recorded in
 * contact_changes by a statement ahead of the round's upserts. Rows are split into rounds so no
 * statement names the same externalId twice (SQLite refuses to update one row twice in one
 * statement), which keeps the per-row merge order exactly the input order. Returns statements
 * for the caller to batch.
 * `onlyIfNewer` leaves a contact alone when it was already seen later than the row.
 */
export function contactUpsertStatements(db: Database, rows: ContactUpsert[], options: UpsertOptions = {}) {
  return contactUpsertPlan(db, rows, options).statements;
}

/**
 * The upserts as a plan that also answers which rows' events had their properties refused by the
 * caps: for rows tied to an event (`onlyIfEventPending`), each round starts with a read of the
 * merges it will refuse (same batch, so it sees exactly what the upserts see). Decodes to those event ids.
 */
export function contactUpsertPlan(
  db: Database,
  rows: ContactUpsert[],
  options: UpsertOptions = {},
): BatchPlan<Set<string>> {
  const now = options.now ?? new Date();
  const resolved = rows.map((row) => ({
    ...row,
    source: row.source ?? options.source ?? "admin",
    emailPolicy: row.emailPolicy ?? options.emailPolicy ?? "replace",
  }));
  const onlyIfNewer = !!options.onlyIfNewer;
  const guarded = rows.some((row) => row.onlyIfEventPending);
  const rounds = roundsByKey(resolved, (row) => row.externalId).map((round) => {
    const patching = round.flatMap((row) =>
      row.onlyIfEventPending && Object.keys({ ...row.properties, ...row.setOnce }).length > 0
        ? [row.onlyIfEventPending]
        : [],
    );
    const upserts = EMAIL_POLICIES.flatMap((policy) => {
      const group = round.filter((row) => row.emailPolicy === policy);
      const replace = policy === "replace" || (policy === "untrusted_replace" && "untrusted");
      return [
        ...addressChangeStatements(db, group, { replace, onlyIfNewer, now }),
        // +1: the externalId is bound twice (personKey), +1 for the event id when guarded.
        ...chunkForParams(group, paramsPerRow(contacts) + 1 + (guarded ? 1 : 0)).map((chunk) =>
          upsertStatement(db, chunk, policy, { now, onlyIfNewer }),
        ),
      ];
    });
    return { check: patching.length > 0 ? [refusedMergesStatement(db, patching)] : [], upserts };
  });
  return plan(
    rounds.flatMap((round) => [...round.check, ...round.upserts]),
    (results) => {
      const refused = new Set<string>();
      let at = 0;
      for (const round of rounds) {
        if (round.check.length > 0) for (const { id } of results[at] as Array<{ id: string }>) refused.add(id);
        at += round.check.length + round.upserts.length;
      }
      return refused;
    },
  );
}

/** The recording statements for one round's rows, ahead of all of that round's upserts. */
function addressChangeStatements(
  db: Database,
  rows: Array<ContactUpsert & { source: ContactChangeSource }>,
  options: { replace: boolean | "untrusted"; onlyIfNewer: boolean; now: Date },
) {
  const writes = rows.flatMap((row) =>
    row.email
      ? [
          {
            externalId: row.externalId,
            email: row.email,
            source: row.source,
            eventId: row.eventId ?? null,
            seenAt: row.seenAt ?? null,
            pendingEventId: row.onlyIfEventPending ?? null,
          },
        ]
      : [],
  );
  return chunk(writes, ADDRESS_WRITES_PER_STATEMENT).map((part) => recordAddressChangesStatement(db, part, options));
}

function upsertStatement(
  db: Database,
  chunk: ContactUpsert[],
  policy: EmailPolicy,
  options: { now: Date; onlyIfNewer: boolean },
) {
  const { now } = options;
  const withIds = chunk.map((row) => ({ ...row, id: newId() }));
  const values = withIds.map((row) => ({
    id: row.id,
    // An id that is an alias lands on its person.
    externalId: personKey(row.externalId),
    email: row.email ?? null,
    properties: row.setOnce ? createdWith(row.properties ?? {}, row.setOnce) : (row.properties ?? {}),
    firstSeenAt: row.seenAt ?? null,
    lastSeenAt: row.seenAt ?? null,
    createdAt: now,
    updatedAt: now,
  }));
  const insert = chunk.some((row) => row.onlyIfEventPending)
    ? db.insert(contacts).select(
        pendingEventRows(
          contacts,
          values.map((v, i) => ({ values: v, eventId: chunk[i]!.onlyIfEventPending ?? "" })),
        ),
      )
    : db.insert(contacts).values(values);
  return insert.onConflictDoUpdate({
    target: contacts.externalId,
    set: {
      email: EMAIL_SET[policy],
      properties: propertiesSet(withIds),
      firstSeenAt: sql`coalesce(min(${contacts.firstSeenAt}, excluded.first_seen_at), ${contacts.firstSeenAt}, excluded.first_seen_at)`,
      lastSeenAt: sql`coalesce(max(${contacts.lastSeenAt}, excluded.last_seen_at), ${contacts.lastSeenAt}, excluded.last_seen_at)`,
      updatedAt: sql`excluded.updated_at`,
    },
    // Late processing (self-healing) must not overwrite what newer events already set.
    setWhere: options.onlyIfNewer
      ? sql`${contacts.lastSeenAt} IS NULL OR ${contacts.lastSeenAt} <= excluded.last_seen_at`
      : undefined,
  });
}

export type ContactListQuery = { search?: string; limit: number; cursor?: string };

/**
 * Search on email or externalId (a case-insensitive substring, ASCII case as SQLite folds it),
 * keyset-paged by id. instr, not LIKE: D1 refuses LIKE patterns over 50 bytes, and a term has no
 * wildcards to escape.
 */
export function contactFilter(query: { search?: string; cursor?: string }): SQL | undefined {
  const conditions: Array<SQL | undefined> = [];
  if (query.search) {
    const term = sql`lower(${query.search})`;
    conditions.push(
      or(sql`instr(lower(${contacts.email}), ${term}) > 0`, sql`instr(lower(${contacts.externalId}), ${term}) > 0`),
    );
  }
  if (query.cursor) conditions.push(gt(contacts.id, query.cursor));
  return and(...conditions);
}

export async function listContacts(db: Database, query: ContactListQuery) {
  const rows = await db
    .select()
    .from(contacts)
    .where(contactFilter(query))
    .orderBy(asc(contacts.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { contacts: page, nextCursor };
}

/** A contact by id, externalId or alias (an id match wins, then an externalId), or undefined. */
export function findContact(db: Database, idOrExternalId: string): Promise<Contact | undefined> {
  return findByAnyId(db, idOrExternalId);
}

export async function getContact(db: Database, idOrExternalId: string): Promise<Contact> {
  const row = await findContact(db, idOrExternalId);
  if (!row) throw notFound("Contact");
  return row;
}

/**
 * A contact (by id, externalId, alias, or else an address only one contact has) with its latest
 * address changes, aliases and the merges into it.
 */
export async function getContactDetail(db: Database, idOrExternalId: string) {
  const contact = (await findContact(db, idOrExternalId)) ?? (await findByAddress(db, idOrExternalId));
  if (!contact) throw notFound("Contact");
  const [changes, identity] = await Promise.all([recentChanges(db, contact.id, ["email"]), identityOf(db, contact.id)]);
  return { ...contact, emailChanges: changes, ...identity };
}
