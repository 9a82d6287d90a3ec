import { and, desc, eq, gte, lt, lte, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
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
 * Written before the request's handler runs (outcome `started`), so no change can exist without
 * its entry even if the Worker dies mid-request; `finishAuditEntry` then states how it ended.
 */
export async function startAuditEntry(db: Database, start: AuditStart): Promise<void> {
  await db.insert(auditLog).values({ ...start, targetIds: [], counts: {}, outcome: "started", status: null });
}

export async function finishAuditEntry(db: Database, id: string, result: AuditResult): Promise<void> {
  await db.update(auditLog).set(result).where(eq(auditLog.id, id));
}

/** One write for a request that was refused before it could change anything. */
export async function recordAuditEntry(db: Database, start: AuditStart, result: AuditResult): Promise<void> {
  await db.insert(auditLog).values({ ...start, ...result });
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
    if (typeof value === "string" && ID_FIELD.test(key)) ids.push({ field: key, value });
    else if (typeof value === "number") counts[key] = value;
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [inner, n] of Object.entries(value)) if (typeof n === "number") counts[`${key}.${inner}`] = n;
    }
  }
  return { ids, counts };
}
