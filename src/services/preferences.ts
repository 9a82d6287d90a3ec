import { eq, sql } from "drizzle-orm";
import { rows, runPlans, sequence, writes } from "../db/batch-plan";
import { type BatchStatement, type Database, runBatch } from "../db/client";
import { type ContactChangeSource, contacts } from "../db/schema";
import { AppError } from "../lib/errors";
import type { KeyedHash } from "../lib/keyed-hash";
import { type AuditDraft, auditStatements } from "./audit-log";
import { recentChanges, recordChangeStatement } from "./contact-changes";
import { getContact } from "./contacts";
import {
  type HashedForms,
  hashedForms,
  hashedList,
  suppressionOf,
  suppressStatement,
  unsuppressStatement,
} from "./suppressions";
import { setTopicStatements, type TopicState, topicStates } from "./topic-preferences";
import { unsubscribedEvent } from "./webhooks/events";
import { webhookOutboxStatement } from "./webhooks/outbox";

export type PreferenceDeps = { db: Database; hash: KeyedHash };

export type Preferences = {
  unsubscribed: boolean;
  unsubscribedAt: Date | null;
  suppressed: boolean;
  suppressionReason: string | null;
  changes: Awaited<ReturnType<typeof recentChanges>>;
  topics: TopicState[];
};

/** The reason an unsubscribe suppresses the address with; only this one is lifted by resubscribing. */
export const UNSUBSCRIBED_REASON = "unsubscribed";

export async function getPreferences({ db, hash }: PreferenceDeps, idOrExternalId: string): Promise<Preferences> {
  const contact = await getContact(db, idOrExternalId);
  const [suppression, changes, topics] = await Promise.all([
    suppressionOf(db, hash, contact.email),
    recentChanges(db, contact.id, ["unsubscribed", "suppressed"]),
    topicStates(db, contact.id),
  ]);
  return {
    unsubscribed: contact.unsubscribedAt !== null,
    unsubscribedAt: contact.unsubscribedAt,
    suppressed: suppression !== null,
    suppressionReason: suppression?.reason ?? null,
    changes,
    topics,
  };
}

/**
 * Unsubscribing flags the contact and suppresses its current address (reason `unsubscribed`), so
 * no other contact id with that address is mailed either; the change is recorded when it is one.
 */
function unsubscribePlan(db: Database, contactId: string, source: ContactChangeSource, now: Date) {
  const unsubscribed = unsubscribedEvent(contactId, source);
  const recordAndSuppress = [
    webhookOutboxStatement(db, unsubscribed.event, unsubscribed.when),
    recordChangeStatement(db, {
      contactId,
      field: "unsubscribed",
      from: sql`'false'`,
      to: sql`'true'`,
      source,
      when: sql`c.unsubscribed_at IS NULL`,
      now,
    }),
    db.run(sql`INSERT INTO suppressions (email, reason, created_at)
      SELECT lower(trim(email)), ${UNSUBSCRIBED_REASON}, ${now.getTime()} FROM contacts
      WHERE id = ${contactId} AND email IS NOT NULL
      ON CONFLICT DO NOTHING`),
  ];
  const flag = db
    .update(contacts)
    .set({ unsubscribedAt: sql`coalesce(${contacts.unsubscribedAt}, ${now.getTime()})`, updatedAt: now })
    .where(eq(contacts.id, contactId))
    .returning({ id: contacts.id });
  return sequence(writes(recordAndSuppress), rows<{ id: string }>([flag]));
}

/** Resubscribing lifts the flag and an `unsubscribed` suppression of the address, never a bounce or complaint. */
function resubscribeStatements(db: Database, contactId: string, address: HashedForms | null, now: Date) {
  const hashed = hashedList(address);
  return [
    recordChangeStatement(db, {
      contactId,
      field: "unsubscribed",
      from: sql`'true'`,
      to: sql`'false'`,
      source: "admin",
      when: sql`c.unsubscribed_at IS NOT NULL OR EXISTS (SELECT 1 FROM suppressions s WHERE s.email IN (lower(trim(c.email)), ${hashed}) AND s.reason = ${UNSUBSCRIBED_REASON})`,
      now,
    }),
    ...(address ? [unsuppressStatement(db, address, UNSUBSCRIBED_REASON)] : []),
    db.update(contacts).set({ unsubscribedAt: null, updatedAt: now }).where(eq(contacts.id, contactId)),
  ];
}

/** `address`: the contact's, with its hashed forms (an erased person's address is suppressed only hashed). */
function suppressionStatements(db: Database, contactId: string, address: HashedForms, suppressed: boolean, now: Date) {
  const hashed = hashedList(address);
  // The clear-text row first: its reason is the one the send step reports.
  const current = sql`(SELECT s.reason FROM suppressions s WHERE s.email IN (lower(trim(c.email)), ${hashed})
    ORDER BY s.email = lower(trim(c.email)) DESC LIMIT 1)`;
  return [
    recordChangeStatement(db, {
      contactId,
      field: "suppressed",
      from: current,
      to: suppressed ? sql`'admin'` : sql`NULL`,
      source: "admin",
      when: suppressed ? sql`${current} IS NULL` : sql`${current} IS NOT NULL`,
      now,
    }),
    suppressed ? suppressStatement(db, address.email, "admin", now) : unsuppressStatement(db, address),
  ];
}

/**
 * An admin's change, in one batch with its record. Suppression is applied first, so
 * `{suppressed: false, unsubscribed: true}` lifts a bounce but leaves the address unsubscribed.
 */
export async function updatePreferences(
  deps: PreferenceDeps,
  idOrExternalId: string,
  change: { unsubscribed?: boolean; suppressed?: boolean; topics?: Record<string, boolean> },
  options: { audit?: AuditDraft } = {},
): Promise<Preferences> {
  const { db } = deps;
  const contact = await getContact(db, idOrExternalId);
  const now = new Date();
  const address = contact.email ? await hashedForms(deps.hash, contact.email) : null;
  const statements: BatchStatement[] = [...auditStatements(db, options.audit)];
  if (change.suppressed !== undefined) {
    if (!address) throw new AppError("UNPROCESSABLE", "suppressed: the contact has no email address to suppress");
    statements.push(...suppressionStatements(db, contact.id, address, change.suppressed, now));
  }
  if (change.unsubscribed === true) statements.push(...unsubscribePlan(db, contact.id, "admin", now).statements);
  if (change.unsubscribed === false) statements.push(...resubscribeStatements(db, contact.id, address, now));
  statements.push(...setTopicStatements(db, contact.id, change.topics ?? {}, "admin", now));
  await runBatch(db, statements);
  return getPreferences(deps, contact.id);
}

/** One-click unsubscribe from an email link; idempotent. Returns false for an unknown contact. */
export async function unsubscribeContact(db: Database, contactId: string): Promise<boolean> {
  const [[, flagged]] = await runPlans(db, unsubscribePlan(db, contactId, "unsubscribe_link", new Date()));
  return flagged.length > 0;
}
