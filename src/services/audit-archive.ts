import { and, asc, inArray, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { type AuditEntryRow, auditLog } from "../db/schema";
import { retentionCutoff, utcDay } from "./event-archive";
import { DEFAULT_RETENTION_BUDGET, type RetentionBudget } from "./retention";

/** Audit entries past AUDIT_RETENTION_DAYS, as NDJSON in the event archive's bucket, by UTC day. */
export const AUDIT_ARCHIVE_PREFIX = "archive/audit/";

export type AuditRetentionDeps = { db: Database; archive: R2Bucket; auditRetentionDays: number };

/**
 * Moves entries older than the retention to R2 (`archive/audit/<day>/<first id>.ndjson`), then
 * deletes exactly those rows: R2 first, as for events, so a run that dies in between writes them
 * again next time (readers deduplicate by id) and none is lost.
 */
export async function archiveOldAuditEntries(
  deps: AuditRetentionDeps,
  now = new Date(),
  budget: RetentionBudget = DEFAULT_RETENTION_BUDGET,
): Promise<{ archivedAuditEntries: number }> {
  const cutoff = retentionCutoff(now, deps.auditRetentionDays);
  let archived = 0;
  for (let slice = 0; slice < budget.maxSlices; slice++) {
    const rows = await deps.db
      .select()
      .from(auditLog)
      .where(lt(auditLog.at, cutoff))
      .orderBy(asc(auditLog.at), asc(auditLog.id))
      .limit(budget.sliceSize);
    if (rows.length === 0) break;
    const days = new Map<string, AuditEntryRow[]>();
    for (const row of rows) days.set(utcDay(row.at), [...(days.get(utcDay(row.at)) ?? []), row]);
    for (const [day, dayRows] of days) {
      await deps.archive.put(
        `${AUDIT_ARCHIVE_PREFIX}${day}/${dayRows[0]!.id}.ndjson`,
        `${dayRows.map((row) => JSON.stringify(row)).join("\n")}\n`,
        { httpMetadata: { contentType: "application/x-ndjson" }, customMetadata: { entries: String(dayRows.length) } },
      );
    }
    await deps.db.delete(auditLog).where(
      and(
        lt(auditLog.at, cutoff),
        inArray(
          auditLog.id,
          rows.map((row) => row.id),
        ),
      ),
    );
    archived += rows.length;
    if (rows.length < budget.sliceSize) break;
  }
  return { archivedAuditEntries: archived };
}
