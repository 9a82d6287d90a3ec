import { eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { runBatch } from "../db/client";
import { type Contact, contacts, enrollments, events, suppressions, topicPreferences } from "../db/schema";
import { AppError } from "../lib/errors";
import type { KeyedHash } from "../lib/keyed-hash";
import { errorFields, log } from "../lib/log";
import { type ArchiveState, archiveErasureState, recordArchiveErasure } from "./archive-erasures";
import type { AuditDraft } from "./audit-log";
import { findContact } from "./contacts";
import { markErased } from "./erasure-markers";
import {
  DEFAULT_ERASURE_BUDGET,
  deleteImportErrors,
  deleteInSlices,
  type ErasureBudget,
  type ErasureCounts,
  NO_COUNTS,
  type Progress,
  scrubDeadLetters,
} from "./erasure-rows";
import { forgetKeys } from "./idempotency";
import { aliasesOf } from "./identity/aliases";
import { hashedAddress } from "./suppressions";
import { erasedDeliveries, erasedEvent } from "./webhooks/events";
import { webhookOutboxStatement } from "./webhooks/outbox";
import { deleteInstances, type JourneyParams } from "./workflow-instances";

export type ErasureDeps = {
  db: Database;
  hash: KeyedHash;
  /** The R2 event archive: erasure records a scrub of it (services/archive-scrub.ts). */
  archive: R2Bucket;
  idempotencyKeys: KVNamespace;
  idempotencyTtlSeconds: number;
  workflow: Workflow<JourneyParams>;
};

export type ErasureResult = {
  /** false: the budget ran out; the same DELETE again continues (the contact row goes last). */
  complete: boolean;
  removed: ErasureCounts;
  /** Addresses now suppressed by hash (new, or converted from a suppression held in clear). */
  hashedSuppressions: number;
  /** Whether the person's lines may still be in the R2 event archive (see services/archive-erasures). */
  archive: ArchiveState;
};

/**
 * Erases a person: their events (and KV idempotency entries), emails with rendered bodies,
 * enrollments (their workflow instances deleted first), import error rows and dead-lettered events naming
 * them, an import's record of their id, the contact's change history, then the contact; their
 * archived events are scrubbed from R2 by the cron (the answer's `archive` says whether pending). Every
 * address they were mailed at keeps only a hashed suppression (reason `erased`, or the reason it
 * was already suppressed for); with `suppress: false` no new one is made. Null: no such contact,
 * and the user id was never erased.
 */
export async function eraseContact(
  deps: ErasureDeps,
  idOrExternalId: string,
  options: { suppress: boolean; budget?: ErasureBudget; now?: Date; audit?: AuditDraft },
): Promise<ErasureResult | null> {
  const { db } = deps;
  const now = options.now ?? new Date();
  const contact = await findContact(db, idOrExternalId);
  if (!contact) return alreadyErased(deps, idOrExternalId);
  const userId = contact.externalId;
  // First: from here on nothing accepted before now writes this person again.
  const aliases = await aliasesOf(db, contact.id);
  const runningImport = await markErased(db, deps.hash, { ...contact, aliases }, now, options.audit);
  if (runningImport) throw importRunning(runningImport);
  const progress: Progress = {
    slices: 0,
    kvDeletes: 0,
    budget: options.budget ?? DEFAULT_ERASURE_BUDGET,
    removed: { ...NO_COUNTS },
  };
  const addresses = await addressesOf(db, contact);
  // Next, so nothing between here and the end can mail the address.
  const hashedSuppressions = await hashSuppressions(deps, addresses, options.suppress, now);
  // Before the events go, so retention archives none of them from here on.
  const archive = await recordArchiveErasure(deps, userId, now);
  // Events archived before a claim or merge carry the id they had then.
  for (const alias of aliases) await recordArchiveErasure(deps, alias, now);

  const complete =
    (await deleteEnrollments(deps, progress, userId)) &&
    (await deleteEvents(deps, progress, userId, now)) &&
    (await deleteInSlices(db, progress, "emails", sql`user_id = ${userId}`)) &&
    (await deleteImportErrors(db, progress, userId, addresses)) &&
    (await deleteInSlices(db, progress, "import_seen_ids", sql`external_id = ${userId}`)) &&
    (await scrubDeadLetters(db, progress, userId, addresses)) &&
    (await deleteInSlices(db, progress, "contact_changes", sql`contact_id = ${contact.id}`)) &&
    (await deleteInSlices(db, progress, "contact_aliases", sql`contact_id = ${contact.id}`));
  if (complete) {
    // A contact has at most one choice per topic: bounded, so they go with the contact itself.
    const erased = erasedEvent(contact.id, userId);
    await runBatch(db, [
      webhookOutboxStatement(db, erased.event, erased.when),
      db.run(erasedDeliveries(userId)),
      db.delete(topicPreferences).where(eq(topicPreferences.contactId, contact.id)),
      db.delete(contacts).where(eq(contacts.id, contact.id)),
    ]);
    progress.removed.contact = 1;
  }
  return { complete, removed: progress.removed, hashedSuppressions, archive };
}

/** Imports take seconds to minutes; a dry run writes no contacts and doesn't count. */
const importRunning = (jobId: string) =>
  new AppError(
    "CONFLICT",
    `Import ${jobId} is running and its file may hold this person: erase once it has ended, or cancel it first (POST /v1/admin/contacts/import/${jobId}/cancel)`,
  );

/** A user id erased before answers with nothing removed and where its archive scrub stands; else null. */
async function alreadyErased(deps: ErasureDeps, userId: string): Promise<ErasureResult | null> {
  const archive = await archiveErasureState(deps, userId);
  return archive && { complete: true, removed: { ...NO_COUNTS }, hashedSuppressions: 0, archive };
}

/** Addresses kept per source: a person has a handful; this bounds a pathological history. */
const ADDRESSES_PER_SOURCE = 200;

/**
 * Every address the person ever had (normalized, distinct): the contact's, its address history,
 * their events' `userEmail`, and where their emails went.
 */
async function addressesOf(db: Database, contact: Contact): Promise<string[]> {
  const n = ADDRESSES_PER_SOURCE;
  const rows = await db.all<{ address: string }>(sql`SELECT DISTINCT lower(trim(address)) AS address FROM (
      SELECT ${contact.email} AS address
      UNION SELECT * FROM (SELECT old_value FROM contact_changes WHERE contact_id = ${contact.id} AND field = 'email' LIMIT ${n})
      UNION SELECT * FROM (SELECT new_value FROM contact_changes WHERE contact_id = ${contact.id} AND field = 'email' LIMIT ${n})
      UNION SELECT * FROM (SELECT DISTINCT user_email FROM events WHERE user_id = ${contact.externalId} AND user_email IS NOT NULL LIMIT ${n})
      UNION SELECT * FROM (SELECT DISTINCT to_address FROM emails WHERE user_id = ${contact.externalId} AND to_address IS NOT NULL LIMIT ${n})
    ) WHERE address IS NOT NULL AND trim(address) != ''`);
  return rows.map((row) => row.address);
}

/** Replaces clear-text suppressions of the addresses by hashed ones (keeping their reason); adds `erased` ones. */
async function hashSuppressions(
  { db, hash }: ErasureDeps,
  addresses: string[],
  suppress: boolean,
  now: Date,
): Promise<number> {
  if (addresses.length === 0) return 0;
  const existing = await db.select().from(suppressions).where(inArray(suppressions.email, addresses));
  const reasonOf = new Map(existing.map((row) => [row.email, row.reason]));
  const kept = addresses.filter((address) => suppress || reasonOf.has(address));
  const hashed = await Promise.all(
    kept.map(async (address) => ({
      email: await hashedAddress(hash, address),
      reason: reasonOf.get(address) ?? "erased",
      createdAt: now,
    })),
  );
  await runBatch(db, [
    ...(hashed.length ? [db.insert(suppressions).values(hashed).onConflictDoNothing()] : []),
    db.delete(suppressions).where(inArray(suppressions.email, addresses)),
  ]);
  return hashed.length;
}

/**
 * Enrollments a slice at a time, each slice's workflow instances first (deleted with their stored
 * state, running ones stopped); the deleted row also stops a send step already in flight. An
 * instance Workflows can't delete now keeps its row, so the same DELETE again retries it.
 */
async function deleteEnrollments(deps: ErasureDeps, progress: Progress, userId: string): Promise<boolean> {
  const { db } = deps;
  while (progress.slices < progress.budget.maxSlices) {
    const slice = await db
      .select({ id: enrollments.id })
      .from(enrollments)
      .where(eq(enrollments.userId, userId))
      .limit(progress.budget.sliceSize);
    if (slice.length === 0) return true;
    const ids = slice.map((row) => row.id);
    progress.slices += 1;
    try {
      progress.removed.workflowInstances += await deleteInstances(deps.workflow, ids);
    } catch (error) {
      log.warn("erasure: workflow instances not deleted; a repeat retries them", {
        enrollments: ids.length,
        ...errorFields(error),
      });
      return false;
    }
    const list = JSON.stringify(ids);
    const result = await db.run(sql`DELETE FROM enrollments WHERE id IN (SELECT value FROM json_each(${list}))`);
    progress.removed.enrollments += result.meta.changes ?? 0;
    if (slice.length < progress.budget.sliceSize) return true;
  }
  return false;
}

/** Events a slice at a time; the KV entries of events still inside the KV TTL go first. */
async function deleteEvents(deps: ErasureDeps, progress: Progress, userId: string, now: Date): Promise<boolean> {
  const { db } = deps;
  const { budget } = progress;
  const kvHorizon = now.getTime() - deps.idempotencyTtlSeconds * 1000;
  while (progress.slices < budget.maxSlices) {
    const slice = await db
      .select({ id: events.id, key: events.idempotencyKey, receivedAt: events.receivedAt })
      .from(events)
      .where(eq(events.userId, userId))
      .limit(budget.sliceSize);
    if (slice.length === 0) return true;
    const keys = slice.filter((e) => e.key && e.receivedAt.getTime() >= kvHorizon).map((e) => e.key!);
    if (progress.kvDeletes > 0 && progress.kvDeletes + keys.length > budget.maxKvDeletes) return false;
    await forgetKeys(deps.idempotencyKeys, keys);
    progress.kvDeletes += keys.length;
    progress.removed.idempotencyKeys += keys.length;
    progress.slices += 1;
    const ids = JSON.stringify(slice.map((e) => e.id));
    const result = await db.run(sql`DELETE FROM events WHERE id IN (SELECT value FROM json_each(${ids}))`);
    progress.removed.events += result.meta.changes ?? 0;
    if (slice.length < budget.sliceSize) return true;
  }
  return false;
}
