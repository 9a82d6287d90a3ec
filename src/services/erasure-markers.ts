import { type SQL, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import type { KeyedHash } from "../lib/keyed-hash";
import { type AuditDraft, auditStatements } from "./audit-log";

/**
 * Records the erasure of a contact's user id and aliases (see db/schema erasure_markers) and clears the
 * contact's address and properties, in one transaction that first checks no import is running: a
 * running import's next chunk could bring the person back from its file, and one created after
 * this is the operator's new decision. Cleared, the contact (deleted last) can't be entered by a
 * backfill page while the rest of its rows go. Returns the id of a running import (nothing
 * changed) or null. The erasure's audit entry commits here, with its first write.
 */
export async function markErased(
  db: Database,
  hash: KeyedHash,
  contact: { id: string; externalId: string; aliases?: string[] },
  now: Date,
  audit?: AuditDraft,
): Promise<string | null> {
  // One marker per id the person is known by: queued work for an alias can't bring them back either.
  const keys = await Promise.all([contact.externalId, ...(contact.aliases ?? [])].map((id) => hash(id)));
  const running = sql`SELECT id FROM import_jobs WHERE status IN ('pending', 'processing')
    AND coalesce(json_extract(options, '$.dryRun'), 0) = 0`;
  const [recorded, , blocker] = (await runBatch(db, [
    db.all(sql`INSERT INTO erasure_markers (id, erased_at)
      SELECT value, ${now.getTime()} FROM json_each(${JSON.stringify(keys)}) WHERE NOT EXISTS (${running})
      ON CONFLICT (id) DO UPDATE SET erased_at = max(erased_at, excluded.erased_at) RETURNING id`),
    db.run(sql`UPDATE contacts SET email = NULL, properties = '{}', updated_at = ${now.getTime()}
      WHERE id = ${contact.id} AND NOT EXISTS (${running})`),
    db.all(sql`${running} LIMIT 1`),
    ...auditStatements(db, audit),
  ])) as [unknown[], unknown, Array<{ id: string }>];
  return recorded.length ? null : blocker[0]!.id;
}

/** The keyed hash of each distinct user id, computed ahead of a batch (hashing is async). */
export async function erasureKeys(hash: KeyedHash, userIds: string[]): Promise<Map<string, string>> {
  const distinct = [...new Set(userIds)];
  const keys = await Promise.all(distinct.map((userId) => hash(userId)));
  return new Map(distinct.map((userId, i) => [userId, keys[i]!]));
}

/**
 * True in SQL when the person keyed `key` was erased at or after `acceptedAt` (epoch ms): the
 * work was accepted before the erasure and must not be written. A tie counts as before.
 */
export const erasedSince = (key: SQL | string, acceptedAt: SQL | number) =>
  sql`EXISTS (SELECT 1 FROM erasure_markers m WHERE m.id = ${key} AND m.erased_at >= ${acceptedAt})`;
