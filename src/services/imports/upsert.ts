import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { personKey } from "../../db/person-key";
import { newId } from "../../lib/ids";
import { refusingMerge } from "../contact-properties";
import { jsonParamChunks, type ValidRow } from "./duplicates";

/**
 * The chunk's contact upserts, one JSON-array parameter per statement expanded with `json_each`
 * instead of 11 rows per statement under the 100-parameter cap. The merge is the import's
 * documented one (email only when given, properties merge-patched; a row past the contact caps fails the batch, see refusingMerge), and every row it writes is
 * marked with the job: a contact already marked by this job is left alone, so a repeat of an
 * externalId can never overwrite the first occurrence (partitionRows has already counted it).
 * The address changes it makes are recorded (source `import`) by the database trigger
 * `contacts_import_address_change` (migrations/0011), which fires only for contacts it changes.
 * Rows are distinct within the chunk, so no statement meets the same externalId twice.
 */
export function importUpsertStatements(db: Database, jobId: string, valid: ValidRow[], now: Date) {
  const at = now.getTime();
  const rows = valid.map(({ contact }) => [
    newId(),
    contact.externalId,
    contact.email ?? null,
    contact.properties ?? {},
  ]);
  return jsonParamChunks(rows).map((json) =>
    db.run(sql`INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at, import_job_id)
      SELECT json_extract(value, '$[0]'), ${personKey(sql`json_extract(value, '$[1]')`)}, json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), ${at}, ${at}, ${jobId}
      FROM json_each(${json}) WHERE true
      ON CONFLICT (external_id) DO UPDATE SET
        email = CASE WHEN lower(trim(excluded.email)) = lower(trim(contacts.email)) THEN contacts.email
          ELSE coalesce(excluded.email, contacts.email) END,
        properties = ${refusingMerge(sql`contacts.properties`, sql`excluded.properties`)},
        updated_at = excluded.updated_at,
        import_job_id = excluded.import_job_id
      WHERE contacts.import_job_id IS NOT excluded.import_job_id`),
  );
}
