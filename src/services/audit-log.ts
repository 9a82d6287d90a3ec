import { and, desc, eq, gte, lt, lte, type SQL } from "drizzle-orm";
import type { BatchStatement, Database } from "../db/client";
import { type AuditEntryRow, type AuditOutcome, auditLog } from "../db/schema";
import { keysetPage } from "../lib/sql";

export type AuditEntry = AuditEntryRow;

/** What is known of a request before it runs. */
export type AuditStart = Pick<
  AuditEntry,
  "id" | "at" | "keyId" | "keyName" | "method" | "route" | "action" | "requestId"
>;
export type AuditResult = {
  outcome: AuditOutcome;
  status: number;
  targetIds: string[];
  counts: Record<string, number>;
};

/**
 * Written before the request's handler runs (outcome `started`), for a change made of several
 * steps that no one batch holds, so no change can exist without its entry even if the Worker dies
 * mid-request; `settleAuditEntry` then states how it ended.
 */
export async function startAuditEntry(db: Database, start: AuditStart): Promise<void> {
  await db.insert(auditLog).values({ ...start, targetIds: [], counts: {}, outcome: "started", status: null });
}

/**
 * A request's entry before it is written, handed to the service that makes the change as a plain
 * input: `auditStatements` puts it in the change's own D1 batch, so the change commits with its
 * entry or not at all, at no extra round trip.
 */
export type AuditDraft = { entry: AuditEntry; written: boolean };

/** What the service knows before its batch runs: ids it made, counts, the status it will answer with. */
export type AuditAddition = { targetIds?: string[]; counts?: Record<string, number>; status?: number };

/**
 * The draft's insert for the batch that makes (or, queued work, starts) the change: once per
 * request, so a change of several batches writes it with the first. With ids and counts the service
 * knows before the batch runs; none without a draft (the service called from elsewhere).
 */
export function auditStatements(
  db: Database,
  draft: AuditDraft | undefined,
  add: AuditAddition = {},
): BatchStatement[] {
  if (!draft || draft.written) return [];
  draft.written = true;
  draft.entry.targetIds = [...new Set([...draft.entry.targetIds, ...(add.targetIds ?? [])])];
  draft.entry.counts = { ...draft.entry.counts, ...add.counts };
  draft.entry.status = add.status ?? draft.entry.status;
  return [db.insert(auditLog).values(draft.entry)];
}

/**
 * The entry as the request ended, in one write: inserted when no batch committed it (a refused or
 * failed change, whose batch rolled its entry back), updated when one did but the answer says more
 * (a count only the batch's results knew, a later step that failed).
 */
export async function settleAuditEntry(db: Database, entry: AuditEntry): Promise<void> {
  const { outcome, status, targetIds, counts } = entry;
  await db
    .insert(auditLog)
    .values(entry)
    .onConflictDoUpdate({ target: auditLog.id, set: { outcome, status, targetIds, counts } });
}

export type AuditQuery = {
  from?: Date;
  to?: Date;
  keyId?: string;
  action?: string;
  limit: number;
  cursor?: string;
};

/** Newest first, keyset-paged by id (uuidv7, so by time). */
export async function listAuditEntries(
  db: Database,
  query: AuditQuery,
): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  const conditions: SQL[] = [];
  if (query.from) conditions.push(gte(auditLog.at, query.from));
  if (query.to) conditions.push(lte(auditLog.at, query.to));
  if (query.keyId) conditions.push(eq(auditLog.keyId, query.keyId));
  if (query.action) conditions.push(eq(auditLog.action, query.action));
  if (query.cursor) conditions.push(lt(auditLog.id, query.cursor));
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { entries: page, nextCursor };
}

const ID_FIELD = /^(id|[a-z][A-Za-z]*Id)$/;

/** An id and the field (or path parameter) it came from: the caller hashes the ones that name a person. */
export type NamedId = { field: string; value: string };

/**
 * The ids and counts a JSON answer reports, for its audit entry: top-level `id`/`…Id` strings and
 * numbers at the top level or one object down (`removed.events`). Nothing else (no names, no
 * addresses, no properties) is taken.
 */
export function summarizeAnswer(body: unknown): { ids: NamedId[]; counts: Record<string, number> } {
  const ids: NamedId[] = [];
  const counts: Record<string, number> = {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ids, counts };
  for (const [key, value] of Object.entries(body)) {
    // An error's requestId is the entry's own column, not a target.
    if (typeof value === "string" && ID_FIELD.test(key) && key !== "requestId") ids.push({ field: key, value });
    else if (typeof value === "number") counts[key] = value;
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [inner, n] of Object.entries(value)) if (typeof n === "number") counts[`${key}.${inner}`] = n;
    }
  }
  return { ids, counts };
}
