import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type ImportJob, importSeenIds } from "../../db/schema";
import { jsonParamChunks, type ValidRow } from "./duplicates";

/**
 * What a dry run commits instead of contact upserts and opt-outs: the chunk's ids in
 * import_seen_ids (a dry run marks no contacts, so that is how its later chunks find repeats),
 * and its valid rows counted as creates or updates by whether their externalId is a contact
 * already. In-file duplicates are already failed rows, so each id counts once.
 */
export function dryRunStatements(db: Database, job: ImportJob, valid: ValidRow[]) {
  const idChunks = jsonParamChunks(valid.map((r) => r.contact.externalId));
  return [
    ...idChunks.map((ids) => seenIdStatement(db, job, ids)),
    ...idChunks.map((ids) => countStatement(db, job, ids)),
  ];
}

function countStatement(db: Database, job: ImportJob, ids: string) {
  const existing = sql`(SELECT count(*) FROM contacts WHERE external_id IN (SELECT value FROM json_each(${ids})))`;
  return db.run(sql`UPDATE import_jobs SET
      would_update = would_update + ${existing},
      would_create = would_create + json_array_length(${ids}) - ${existing}
    WHERE id = ${job.id}`);
}

function seenIdStatement(db: Database, job: ImportJob, ids: string) {
  return (
    db
      .insert(importSeenIds)
      // `WHERE true`: SQLite can't tell ON CONFLICT from a join constraint after a bare INSERT … SELECT.
      .select(sql`SELECT ${job.id}, value FROM json_each(${ids}) WHERE true`)
      .onConflictDoNothing()
  );
}
