import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { ImportJob } from "../../db/schema";
import { jsonParamChunks, type ValidRow } from "./duplicates";
import { PRESETS } from "./presets";
import type { OptOut } from "./rows";

const optOutOf = (row: ValidRow): OptOut | undefined => ("optOut" in row ? row.optOut : undefined);

/**
 * The chunk's opt-outs, run after its contact upserts in the same batch. They only ever add: a
 * contact already unsubscribed keeps its time and source, a suppressed address keeps its first
 * reason, and nothing here clears either (an import never lifts an opt-out).
 */
export function optOutStatements(db: Database, job: ImportJob, valid: ValidRow[], now: Date) {
  const unsubscribes = valid.flatMap((r) => {
    const at = optOutOf(r)?.unsubscribed;
    return at === undefined ? [] : [[r.contact.externalId, at]];
  });
  const suppressions = valid.flatMap((r) => {
    const at = optOutOf(r)?.suppressed;
    return at === undefined || !r.contact.email ? [] : [[r.contact.email, at]];
  });
  const preset = job.options?.preset;
  const reason = preset ? PRESETS[preset].suppressReason : "import";
  return [
    ...jsonParamChunks(unsubscribes).map((pairs) =>
      db.run(sql`UPDATE contacts SET
          unsubscribed_at = (SELECT json_extract(j.value, '$[1]') FROM json_each(${pairs}) AS j WHERE json_extract(j.value, '$[0]') = contacts.external_id),
          unsubscribe_source = ${`import:${job.id}`},
          updated_at = ${now.getTime()}
        WHERE unsubscribed_at IS NULL
          AND external_id IN (SELECT json_extract(value, '$[0]') FROM json_each(${pairs}))`),
    ),
    ...jsonParamChunks(suppressions).map((pairs) =>
      db.run(sql`INSERT INTO suppressions (email, reason, created_at)
        SELECT lower(trim(json_extract(value, '$[0]'))), ${reason}, json_extract(value, '$[1]') FROM json_each(${pairs}) WHERE true
        ON CONFLICT (email) DO NOTHING`),
    ),
  ];
}
