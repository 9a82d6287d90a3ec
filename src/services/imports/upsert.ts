import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { newId } from "../../lib/ids";
import { recordAddressChangesFrom } from "../contact-changes";
import { jsonParamChunks, type ValidRow } from "./duplicates";

/**
 * The chunk's contact upserts, one JSON-array parameter per statement expanded with `json_each`
 * instead of 11 rows per statement under the 100-parameter cap. The merge is the import's
 * documented one (email only when given, properties merge-patched), and every row it writes is
 * marked with the job: a contact already marked by this job is left alone, so a repeat of an
 * externalId can never overwrite the first occurrence (partitionRows has already counted it).
 * Ahead of each upsert, a statement over the same parameter records the address changes it will
 * make (source `import`, as every contact upsert does). Rows are distinct within the chunk, so no
 * statement meets the same externalId twice.
 */
export function importUpsertStatements(db: Database, jobId: string, valid: ValidRow[], now: Date) {
  const at = now.getTime();
  const rows = valid.map(({ contact }) => [
    newId(),
    contact.externalId,
    contact.email ?? null,
    contact.properties ?? {},
  ]);
  return jsonParamChunks(rows).flatMap((json) => [
    recordAddressChangesFrom(
      db,
      sql`SELECT json_extract(value, '$[1]') AS external_id, json_extract(value, '$[2]') AS email,
          'import' AS source, NULL AS event_id, NULL AS seen_at
        FROM json_each(${json}) WHERE json_extract(value, '$[2]') IS NOT NULL`,
      { replace: true, onlyIfNewer: false, now, unlessImportJob: jobId },
    ),
    db.run(sql`INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at, import_job_id)
      SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), ${at}, ${at}, ${jobId}
      FROM json_each(${json}) WHERE true
      ON CONFLICT (external_id) DO UPDATE SET
        email = coalesce(excluded.email, contacts.email),
        properties = json_patch(contacts.properties, excluded.properties),
        updated_at = excluded.updated_at,
        import_job_id = excluded.import_job_id
      WHERE contacts.import_job_id IS NOT excluded.import_job_id`),
  ]);
}
