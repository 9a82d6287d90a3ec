import type { Database } from "../../db/client";
import { runBatch } from "../../db/client";
import type { SuppressionReason } from "../../db/schema";
import type { KeyedHash } from "../../lib/keyed-hash";
import { type AuditDraft, auditStatements } from "../audit-log";
import { addressProblem, type SuppressionEntry } from "./rows";
import { insertSuppressions, packEntries } from "./writes";

export const MAX_BULK_ADDRESSES = 1000;

export type BulkSuppressInput = {
  addresses: string[];
  reason: SuppressionReason;
  source?: string;
  audit?: AuditDraft;
};

/**
 * Suppresses up to 1,000 addresses in one D1 round trip (one batch of json_each inserts, each
 * returning the addresses it added). Invalid addresses are reported by index and skipped; an
 * address already suppressed, in clear or hashed, keeps its entry.
 */
export async function bulkSuppress(
  deps: { db: Database; hash: KeyedHash },
  input: BulkSuppressInput,
  now = new Date(),
) {
  const entries: SuppressionEntry[] = [];
  const invalid: Array<{ index: number; address: string; error: string }> = [];
  input.addresses.forEach((raw, index) => {
    const address = raw.trim();
    const error = addressProblem(address);
    if (error) invalid.push({ index, address: raw, error });
    else entries.push({ address, reason: input.reason, source: input.source ?? "api", at: now.getTime() });
  });
  const kinds = { keyed: true, legacy: true };
  const chunks = await packEntries(deps.hash, entries, kinds);
  const inserts = chunks.map(({ json }) => insertSuppressions(deps.db, json, kinds, { returning: true }));
  const results = (await runBatch(deps.db, [...inserts, ...auditStatements(deps.db, input.audit)])).slice(
    0,
    inserts.length,
  ) as Array<Array<{ email: string }>>;
  const suppressed = results.reduce((n, rows) => n + rows.length, 0);
  return { suppressed, alreadySuppressed: entries.length - suppressed, invalid };
}
