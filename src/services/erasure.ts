import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { runBatch } from "../db/client";
import { type Contact, contacts, emails, enrollments, events, suppressions } from "../db/schema";
import { findContact } from "./contacts";
import { forgetKeys } from "./idempotency";
import { hashedAddress } from "./suppressions";
import { type JourneyParams, stopInstances } from "./workflow-instances";

export type ErasureDeps = {
  db: Database;
  idempotencyKeys: KVNamespace;
  idempotencyTtlSeconds: number;
  workflow: Workflow<JourneyParams>;
};

/**
 * What one request may do: `maxSlices` D1 deletes of at most `sliceSize` rows (each a short write
 * that never holds the database long), and at most `maxKvDeletes` KV deletes (subrequests).
 */
export type ErasureBudget = { sliceSize: number; maxSlices: number; maxKvDeletes: number };
export const DEFAULT_ERASURE_BUDGET: ErasureBudget = { sliceSize: 500, maxSlices: 40, maxKvDeletes: 500 };

export type ErasureCounts = {
  contact: number;
  events: number;
  emails: number;
  enrollments: number;
  importErrors: number;
  idempotencyKeys: number;
};
export type ErasureResult = {
  /** false: the budget ran out; the same DELETE again continues (the contact row goes last). */
  complete: boolean;
  removed: ErasureCounts;
  /** Addresses now suppressed by hash (new, or converted from a suppression held in clear). */
  hashedSuppressions: number;
};

type Progress = { slices: number; kvDeletes: number; budget: ErasureBudget; removed: ErasureCounts };

/**
 * Erases a person: their events (and KV idempotency entries), emails with rendered bodies,
 * enrollments (workflows terminated first), import error rows naming them, then the contact. Every
 * address they were mailed at keeps only a hashed suppression (reason `erased`, or the reason it
 * was already suppressed for); with `suppress: false` no new one is made. Null: no such contact.
 */
export async function eraseContact(
  deps: ErasureDeps,
  idOrExternalId: string,
  options: { suppress: boolean; budget?: ErasureBudget; now?: Date },
): Promise<ErasureResult | null> {
  const { db } = deps;
  const now = options.now ?? new Date();
  const contact = await findContact(db, idOrExternalId);
  if (!contact) return null;
  const userId = contact.externalId;
  const progress: Progress = {
    slices: 0,
    kvDeletes: 0,
    budget: options.budget ?? DEFAULT_ERASURE_BUDGET,
    removed: { contact: 0, events: 0, emails: 0, enrollments: 0, importErrors: 0, idempotencyKeys: 0 },
  };
  const addresses = await addressesOf(db, contact);
  // First, so nothing between here and the end can mail the address.
  const hashedSuppressions = await hashSuppressions(db, addresses, options.suppress, now);
  await stopRunningEnrollments(deps, userId);

  const complete =
    (await deleteInSlices(db, progress, "enrollments", sql`user_id = ${userId}`)) &&
    (await deleteEvents(deps, progress, userId, now)) &&
    (await deleteInSlices(db, progress, "emails", sql`user_id = ${userId}`)) &&
    (await deleteImportErrors(db, progress, userId, addresses));
  if (complete) {
    await db.delete(contacts).where(eq(contacts.id, contact.id));
    progress.removed.contact = 1;
  }
  return { complete, removed: progress.removed, hashedSuppressions };
}

/** The contact's address and the addresses its emails went to (normalized, distinct). */
async function addressesOf(db: Database, contact: Contact): Promise<string[]> {
  const sent = await db
    .selectDistinct({ to: sql<string>`lower(trim(${emails.toAddress}))` })
    .from(emails)
    .where(and(eq(emails.userId, contact.externalId), sql`${emails.toAddress} IS NOT NULL`))
    .limit(50);
  const all = [contact.email, ...sent.map((row) => row.to)].filter((a): a is string => !!a);
  return [...new Set(all.map((a) => a.trim().toLowerCase()))];
}

/** Replaces clear-text suppressions of the addresses by hashed ones (keeping their reason); adds `erased` ones. */
async function hashSuppressions(db: Database, addresses: string[], suppress: boolean, now: Date): Promise<number> {
  if (addresses.length === 0) return 0;
  const existing = await db.select().from(suppressions).where(inArray(suppressions.email, addresses));
  const reasonOf = new Map(existing.map((row) => [row.email, row.reason]));
  const kept = addresses.filter((address) => suppress || reasonOf.has(address));
  const hashed = await Promise.all(
    kept.map(async (address) => ({
      email: await hashedAddress(address),
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

/** Terminates running journeys; the deleted enrollment row also stops any send step in flight. */
async function stopRunningEnrollments(deps: ErasureDeps, userId: string): Promise<void> {
  const running = await deps.db
    .select({ id: enrollments.id })
    .from(enrollments)
    .where(and(eq(enrollments.userId, userId), inArray(enrollments.status, ["active", "waiting"])));
  await stopInstances(
    deps.workflow,
    running.map((row) => row.id),
  );
}

/** Deletes matching rows a slice at a time; true when none are left. */
async function deleteInSlices(
  db: Database,
  progress: Progress,
  table: "enrollments" | "emails" | "import_errors",
  where: ReturnType<typeof sql>,
): Promise<boolean> {
  const size = progress.budget.sliceSize;
  while (progress.slices < progress.budget.maxSlices) {
    progress.slices += 1;
    const result = await db.run(
      sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN (SELECT rowid FROM ${sql.identifier(table)} WHERE ${where} LIMIT ${size})`,
    );
    const changes = result.meta.changes ?? 0;
    const key = table === "import_errors" ? "importErrors" : table;
    progress.removed[key] += changes;
    if (changes < size) return true;
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

/**
 * Import error rows keep the raw row. A row names the person when its externalId cell (CSV: the
 * header's `externalId` column; JSON: `$.externalId`) is their id or its email cell one of their
 * addresses; a row that isn't valid JSON matches on the quoted id or an address anywhere in its text.
 */
function deleteImportErrors(db: Database, progress: Progress, userId: string, addresses: string[]) {
  const addressList = JSON.stringify(addresses);
  const inAddresses = (value: ReturnType<typeof sql>) =>
    sql`lower(trim(${value})) IN (SELECT value FROM json_each(${addressList}))`;
  const csvCell = (column: string) =>
    sql`json_extract(e.data, '$[' || (SELECT key FROM json_each(j.header) WHERE trim(value) = ${column}) || ']')`;
  const where = sql`rowid IN (SELECT e.rowid FROM import_errors e JOIN import_jobs j ON j.id = e.job_id WHERE CASE
      WHEN NOT json_valid(e.data) THEN instr(e.data, ${JSON.stringify(userId)}) > 0
        OR EXISTS (SELECT 1 FROM json_each(${addressList}) a WHERE instr(lower(e.data), a.value) > 0)
      WHEN j.format = 'csv' THEN trim(${csvCell("externalId")}) = ${userId} OR ${inAddresses(csvCell("email"))}
      ELSE trim(CAST(json_extract(e.data, '$.externalId') AS TEXT)) = ${userId}
        OR ${inAddresses(sql`json_extract(e.data, '$.email')`)}
    END)`;
  return deleteInSlices(db, progress, "import_errors", where);
}
