import { type SQL, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { AppError, notFound } from "../../lib/errors";
import type { KeyedHash } from "../../lib/keyed-hash";
import { type AuditDraft, auditStatements } from "../audit-log";
import { hashedForms, hashedList } from "../suppressions";

export type LiftInput = { address: string; force: boolean; by: string; audit?: AuditDraft };

/**
 * Lifts the suppression of an address (in clear, and any hashed form of it) in one batch: the
 * lift is recorded (who, when, the entry as stored: an erased person's stays a hash), each contact
 * with the address gets a `suppressed` change, then the entry goes. A complaint is only lifted
 * with `force`: 409 without it; 404 when the address isn't suppressed.
 */
export async function liftSuppression(deps: { db: Database; hash: KeyedHash }, input: LiftInput, now = new Date()) {
  const { db } = deps;
  const forms = await hashedForms(deps.hash, input.address.trim());
  const matches = (column: SQL) => sql`${column} IN (lower(trim(${forms.email})), ${hashedList(forms)})`;
  const allowed = input.force ? sql`1` : sql`reason <> 'complaint'`;
  const at = now.getTime();
  const [, , lifted, left] = (await runBatch(db, [
    db.run(sql`INSERT INTO suppression_lifts (email, reason, source, forced, lifted_by, lifted_at)
      SELECT email, reason, source, ${input.force ? 1 : 0}, ${input.by}, ${at} FROM suppressions
      WHERE ${matches(sql`email`)} AND ${allowed}`),
    // Scans contacts for the address (no index on lower(trim(email))): one admin lift, not a hot path.
    db.run(sql`INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
      SELECT c.id, 'suppressed', s.reason, NULL, 'admin', NULL, ${at}
      FROM suppressions s JOIN contacts c ON lower(trim(c.email)) = s.email
      WHERE ${matches(sql`s.email`)} AND ${input.force ? sql`1` : sql`s.reason <> 'complaint'`}`),
    db.all<{ email: string; reason: string; source: string | null; created_at: number }>(
      sql`DELETE FROM suppressions WHERE ${matches(sql`email`)} AND ${allowed}
        RETURNING email, reason, source, created_at`,
    ),
    db.all<{ reason: string }>(sql`SELECT reason FROM suppressions WHERE ${matches(sql`email`)}`),
    ...auditStatements(db, input.audit),
  ])) as [
    unknown,
    unknown,
    Array<{ email: string; reason: string; source: string | null; created_at: number }>,
    Array<{ reason: string }>,
  ];
  if (lifted.length === 0) {
    if (left.some((row) => row.reason === "complaint"))
      throw new AppError("CONFLICT", "The address is suppressed for a complaint: lifting it needs force=true");
    throw notFound("Suppression");
  }
  return {
    lifted: lifted.map((row) => ({
      address: row.email,
      reason: row.reason,
      source: row.source,
      createdAt: new Date(row.created_at),
    })),
    forced: input.force,
    liftedBy: input.by,
    liftedAt: now,
  };
}
