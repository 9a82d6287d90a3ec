import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { ImportJob } from "../../db/schema";
import { PROPERTIES_LIMIT_ERROR } from "../contact-properties";
import { rowsOverContactCaps } from "./contact-caps";
import { jsonParamChunks } from "./json-params";
import type { ImportRow } from "./rows";

export { jsonParamChunks } from "./json-params";

export type ValidRow = ImportRow & { contact: NonNullable<Extract<ImportRow, { contact: unknown }>["contact"]> };
export type InvalidRow = ImportRow & { error: string };

/**
 * The ids an invocation's run has committed so far, and whether chunks before the run exist (then
 * D1 is asked about them too). The first run of a job never reads: its own ids are all there is.
 */
export type RunIds = { committed: Set<string>; earlierRuns: boolean };

/**
 * Valid rows to upsert, and failed rows (validation, an externalId seen earlier in the file, or
 * properties the existing contact can't take under the contact caps).
 */
export async function partitionRows(db: Database, job: ImportJob, rows: ImportRow[], run: RunIds) {
  const valid: ValidRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstInChunk = new Map<string, ValidRow>();
  for (const row of rows) {
    if ("error" in row) invalid.push(row);
    else if (firstInChunk.has(row.contact.externalId)) invalid.push({ ...row, error: "Duplicate externalId" });
    else firstInChunk.set(row.contact.externalId, row);
  }
  // A real run learns of rows over the contact caps from its commit (withoutRowsOverCaps); a dry
  // run commits no upserts, so it reads them here.
  const [earlier, overCaps] = await Promise.all([
    run.earlierRuns ? seenEarlier(db, job, [...firstInChunk.keys()]) : new Set<string>(),
    job.options?.dryRun
      ? rowsOverContactCaps(
          db,
          [...firstInChunk.values()].map((row) => row.contact),
        )
      : new Set<string>(),
  ]);
  for (const [externalId, row] of firstInChunk) {
    if (earlier.has(externalId) || run.committed.has(externalId))
      invalid.push({ row: row.row, data: row.data, error: "Duplicate externalId" });
    else if (overCaps.has(externalId)) invalid.push(overCapsError(row));
    else valid.push(row);
  }
  invalid.sort((a, b) => a.row - b.row);
  return { valid, invalid };
}

const overCapsError = (row: ValidRow): InvalidRow => ({ row: row.row, data: row.data, error: PROPERTIES_LIMIT_ERROR });

/** The partition with the rows whose properties their contact can't take now moved to the failed rows. */
export async function withoutRowsOverCaps(
  db: Database,
  { valid, invalid }: { valid: ValidRow[]; invalid: InvalidRow[] },
) {
  const overCaps = await rowsOverContactCaps(
    db,
    valid.map((row) => row.contact),
  );
  const failed = [...invalid, ...valid.filter((row) => overCaps.has(row.contact.externalId)).map(overCapsError)];
  return {
    valid: valid.filter((row) => !overCaps.has(row.contact.externalId)),
    invalid: failed.sort((a, b) => a.row - b.row),
  };
}

/**
 * Which of these ids an earlier chunk of this job already imported: their contacts carry the job's
 * marker. Chunks of a job commit one after another (the ledger), so this read sees exactly them.
 * A dry run writes no contacts: its chunks record their ids in import_seen_ids instead.
 * CROSS JOIN (and the unary + on import_job_id) keep the ids as the outer loop, one index lookup
 * each: otherwise SQLite may walk every contact already marked with the job through
 * contacts_import_job_idx and scan the ids for each, quadratic in the job's size.
 */
async function seenEarlier(db: Database, job: ImportJob, externalIds: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const reads = jsonParamChunks(externalIds).map((ids) =>
    db.all<{ id: string }>(
      job.options?.dryRun
        ? sql`SELECT s.external_id AS id FROM json_each(${ids}) AS j
            CROSS JOIN import_seen_ids s ON s.job_id = ${job.id} AND s.external_id = j.value`
        : sql`SELECT c.external_id AS id FROM json_each(${ids}) AS j
            CROSS JOIN contacts c ON c.external_id = j.value WHERE +c.import_job_id = ${job.id}`,
    ),
  );
  for (const rows of await Promise.all(reads)) for (const { id } of rows) seen.add(id);
  return seen;
}
