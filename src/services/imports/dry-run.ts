import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { ImportJob } from "../../db/schema";
import { jsonParamChunks, type ValidRow } from "./duplicates";

/**
 * What a dry run commits instead of contact upserts and opt-outs: the chunk's valid rows counted
 * as creates or updates by whether their externalId is a contact already. In-file duplicates are
 * already failed rows (import_seen_ids still records a dry run's ids), so each id counts once.
 */
export function dryRunCountStatements(db: Database, job: ImportJob, valid: ValidRow[]) {
  return jsonParamChunks(valid.map((r) => r.contact.externalId)).map((ids) => {
    const existing = sql`(SELECT count(*) FROM contacts WHERE external_id IN (SELECT value FROM json_each(${ids})))`;
    return db.run(sql`UPDATE import_jobs SET
        would_update = would_update + ${existing},
        would_create = would_create + json_array_length(${ids}) - ${existing}
      WHERE id = ${job.id}`);
  });
}
