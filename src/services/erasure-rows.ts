import { sql } from "drizzle-orm";
import type { Database } from "../db/client";

/**
 * What one request may do: `maxSlices` D1 deletes of at most `sliceSize` rows (each a short write
 * that never holds the database long), and at most `maxKvDeletes` KV deletes (subrequests). Every
 * step costs a slice even when it finds nothing, and a repeat redoes the finished ones, so
 * `maxSlices` must be well above the number of steps (8) for a repeat to get further.
 */
export type ErasureBudget = { sliceSize: number; maxSlices: number; maxKvDeletes: number };
export const DEFAULT_ERASURE_BUDGET: ErasureBudget = { sliceSize: 500, maxSlices: 40, maxKvDeletes: 500 };

export type ErasureCounts = {
  contact: number;
  events: number;
  emails: number;
  enrollments: number;
  workflowInstances: number;
  importErrors: number;
  idempotencyKeys: number;
  contactChanges: number;
  importSeenIds: number;
  deadLetters: number;
  aliases: number;
};
export const NO_COUNTS: ErasureCounts = {
  contact: 0,
  events: 0,
  emails: 0,
  enrollments: 0,
  workflowInstances: 0,
  importErrors: 0,
  idempotencyKeys: 0,
  contactChanges: 0,
  importSeenIds: 0,
  deadLetters: 0,
  aliases: 0,
};

export type Progress = { slices: number; kvDeletes: number; budget: ErasureBudget; removed: ErasureCounts };

const COUNTED_AS = {
  emails: "emails",
  import_errors: "importErrors",
  contact_changes: "contactChanges",
  import_seen_ids: "importSeenIds",
  contact_aliases: "aliases",
} as const;

/** Deletes matching rows a slice at a time; true when none are left. */
export async function deleteInSlices(
  db: Database,
  progress: Progress,
  table: keyof typeof COUNTED_AS,
  where: ReturnType<typeof sql>,
): Promise<boolean> {
  const size = progress.budget.sliceSize;
  while (progress.slices < progress.budget.maxSlices) {
    progress.slices += 1;
    const result = await db.run(
      sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN (SELECT rowid FROM ${sql.identifier(table)} WHERE ${where} LIMIT ${size})`,
    );
    const changes = result.meta.changes ?? 0;
    progress.removed[COUNTED_AS[table]] += changes;
    if (changes < size) return true;
  }
  return false;
}

/**
 * Import error rows keep the raw row. A row names the person when its externalId cell (CSV: the
 * header's `externalId` column; JSON: `$.externalId`) is their id or its email cell one of their
 * addresses; a row that isn't valid JSON matches on the quoted id or an address anywhere in its text.
 */
export function deleteImportErrors(db: Database, progress: Progress, userId: string, addresses: string[]) {
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

/**
 * Dead letters of buffered ingest keep the events they failed to write (`body.events`). The
 * person's events (their user id, or one of their addresses as `userEmail`) are taken out; a dead
 * letter left with none is deleted. Dead letters are few (an admin clears them), so one pass.
 */
export async function scrubDeadLetters(db: Database, progress: Progress, userId: string, addresses: string[]) {
  // coalesce: an event without userEmail is NULL on the address side, and NOT NULL would drop it.
  const theirs = sql`coalesce(json_extract(e.value, '$.userId') = ${userId}
    OR lower(trim(json_extract(e.value, '$.userEmail'))) IN (SELECT value FROM json_each(${JSON.stringify(addresses)})), 0)`;
  const events = sql`json_each(dead_letters.body, '$.events') e`;
  const named = sql`json_valid(body) AND json_type(body, '$.events') = 'array' AND EXISTS (SELECT 1 FROM ${events} WHERE ${theirs})`;
  progress.slices += 1;
  const deleted = await db.run(
    sql`DELETE FROM dead_letters WHERE ${named} AND NOT EXISTS (SELECT 1 FROM ${events} WHERE NOT ${theirs})`,
  );
  const rewritten = await db.run(sql`UPDATE dead_letters SET body = json_set(body, '$.events',
      (SELECT json_group_array(json(e.value)) FROM ${events} WHERE NOT ${theirs})) WHERE ${named}`);
  progress.removed.deadLetters += (deleted.meta.changes ?? 0) + (rewritten.meta.changes ?? 0);
  return true;
}
