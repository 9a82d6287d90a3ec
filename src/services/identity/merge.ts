import { sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import type { Contact } from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { type AuditDraft, auditStatements } from "../audit-log";
import { stopInstances, type WorkflowDeps } from "../workflow-instances";
import { findByAnyId } from "./aliases";
import { mergeStatements, movedCounts } from "./merge-statements";

export type MergeDeps = { db: Database; workflow: WorkflowDeps["workflow"] };
export type MergeInput = { from: string; into: string; dryRun?: boolean; audit?: AuditDraft };

type Moved = { events: number; emails: number; enrollments: number; aliases: number; changes: number };

export type MergeResult = {
  dryRun: boolean;
  /** The merge record's id (shown on the contact under `merges`); null in a dry run. */
  mergeId: string | null;
  from: { id: string; externalId: string };
  into: { id: string; externalId: string };
  moved: Moved;
  /** Running enrollments of `from` in journeys `into` is also running: they end (`merged`), one stays. */
  endedEnrollments: number;
  /** What `into` takes from `from`: the property keys it lacked, and the address if it had none. */
  filled: { properties: string[]; email: boolean };
};

const brief = (contact: Contact) => ({ id: contact.id, externalId: contact.externalId });

async function bothContacts(db: Database, input: MergeInput): Promise<[Contact, Contact]> {
  const [from, into] = await Promise.all([findByAnyId(db, input.from), findByAnyId(db, input.into)]);
  if (!from) throw notFound(`Contact ${JSON.stringify(input.from)} (from)`);
  if (!into) throw notFound(`Contact ${JSON.stringify(input.into)} (into)`);
  if (from.id === into.id) throw new AppError("UNPROCESSABLE", "from and into are already the same person");
  return [from, into];
}

/**
 * Merges two people (by id, externalId or alias): `into` keeps its values and takes what it lacks,
 * everything of `from`'s moves to it and `from`'s ids become its aliases (merge-statements). One
 * D1 round trip after the two lookups, whatever the number of rows that move; a dry run reads the
 * same counts and writes nothing. A merge that lost a race (one side merged or erased meanwhile)
 * is a 409 with nothing written.
 */
export async function mergeContacts(deps: MergeDeps, input: MergeInput, now = new Date()): Promise<MergeResult> {
  const { db } = deps;
  const [from, into] = await bothContacts(db, input);
  const filled = {
    properties: Object.keys(from.properties).filter((key) => !(key in into.properties)),
    email: !into.email && !!from.email,
  };
  const base = { from: brief(from), into: brief(into), filled };
  const fromKey = sql`${from.externalId}`;
  if (input.dryRun) {
    const row = await db.get<{
      moved: string;
      ending: number;
    }>(sql`SELECT ${movedCounts(sql`${from.id}`, fromKey)} AS moved,
      (SELECT count(*) FROM enrollments f WHERE f.user_id = ${from.externalId} AND f.status IN ('active', 'waiting')
        AND EXISTS (SELECT 1 FROM enrollments i WHERE i.user_id = ${into.externalId} AND i.journey_key = f.journey_key
          AND i.status IN ('active', 'waiting'))) AS ending`);
    return { dryRun: true, mergeId: null, ...base, moved: JSON.parse(row.moved), endedEnrollments: row.ending };
  }
  const mergeId = newId();
  const spec = {
    mergeId,
    from: sql`${from.id}`,
    into: sql`${into.id}`,
    source: "admin" as const,
    moveAddress: true,
    now,
  };
  const statements = [...mergeStatements(db, spec), ...auditStatements(db, input.audit, { targetIds: [mergeId] })];
  const [recorded, ended] = (await runBatch(db, statements)) as [Array<{ moved: string }>, Array<{ id: string }>];
  if (recorded.length === 0) throw new AppError("CONFLICT", "One of the contacts changed while merging; try again");
  await stopInstances(
    deps.workflow,
    ended.map((row) => row.id),
  );
  return { dryRun: false, mergeId, ...base, moved: JSON.parse(recorded[0]!.moved), endedEnrollments: ended.length };
}
