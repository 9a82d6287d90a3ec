import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { ImportJob } from "../../db/schema";
import type { ImportRow } from "./rows";

/** Ids and errors travel to D1 as one JSON-array parameter per statement (json_each), kept this small. */
const JSON_PARAM_MAX_BYTES = 256 * 1024;

export type ValidRow = ImportRow & { contact: NonNullable<Extract<ImportRow, { contact: unknown }>["contact"]> };
export type InvalidRow = ImportRow & { error: string };

/**
 * The ids an invocation's run has committed so far, and whether chunks before the run exist (then
 * D1 is asked about them too). The first run of a job never reads: its own ids are all there is.
 */
export type RunIds = { committed: Set<string>; earlierRuns: boolean };

/** Valid rows to upsert, and failed rows (validation, or an externalId seen earlier in the file). */
export async function partitionRows(db: Database, job: ImportJob, rows: ImportRow[], run: RunIds) {
  const valid: ValidRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstInChunk = new Map<string, ValidRow>();
  for (const row of rows) {
    if ("error" in row) invalid.push(row);
    else if (firstInChunk.has(row.contact.externalId)) invalid.push({ ...row, error: "Duplicate externalId" });
    else firstInChunk.set(row.contact.externalId, row);
  }
  const earlier = run.earlierRuns ? await seenEarlier(db, job, [...firstInChunk.keys()]) : new Set<string>();
  for (const [externalId, row] of firstInChunk) {
    if (earlier.has(externalId) || run.committed.has(externalId))
      invalid.push({ row: row.row, data: row.data, error: "Duplicate externalId" });
    else valid.push(row);
  }
  invalid.sort((a, b) => a.row - b.row);
  return { valid, invalid };
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

/** JSON arrays of the items, each small enough to bind as one statement parameter. */
export function jsonParamChunks(items: unknown[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > JSON_PARAM_MAX_BYTES) {
      out.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) out.push(`[${current.join(",")}]`);
  return out;
}
