import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { personKey } from "../../db/person-key";
import type { ImportJob } from "../../db/schema";
import { UNSUBSCRIBED_REASON } from "../preferences";
import { jsonParamChunks, type ValidRow } from "./duplicates";
import { PRESETS } from "./presets";
import type { OptOut } from "./rows";
import { topicChoiceStatements } from "./topic-choices";

const optOutOf = (row: ValidRow): OptOut | undefined => ("optOut" in row ? row.optOut : undefined);

/**
 * The chunk's opt-outs, run after its contact upserts in the same batch, as an unsubscribe and a
 * suppression by an admin are: each recorded in contact_changes (source `import`) before it is
 * made, and an unsubscribe also suppresses the address (reason `unsubscribed`). They only ever
 * add: an unsubscribed contact keeps its time, a suppressed address keeps its first reason, and
 * nothing here clears either (an import never lifts an opt-out).
 */
export function optOutStatements(db: Database, job: ImportJob, valid: ValidRow[], now: Date) {
  const unsubscribes = valid.flatMap((r) => {
    const at = optOutOf(r)?.unsubscribed;
    return at === undefined ? [] : [[r.contact.externalId, at]];
  });
  const suppressions = valid.flatMap((r) => {
    const at = optOutOf(r)?.suppressed;
    return at === undefined || !r.contact.email ? [] : [[r.contact.externalId, at]];
  });
  const preset = job.options?.preset;
  const reason = preset ? PRESETS[preset].suppressReason : "import";
  const unsubscribeChunks = jsonParamChunks(unsubscribes);
  const suppressChunks = jsonParamChunks(suppressions);
  return [
    // Recorded first: the conditions read the contacts and suppressions before the changes below.
    ...unsubscribeChunks.map((rows) =>
      recordChange(db, rows, "unsubscribed", sql`'false'`, sql`'true'`, sql`c.unsubscribed_at IS NULL`, now),
    ),
    ...suppressChunks.map((rows) =>
      recordChange(
        db,
        rows,
        "suppressed",
        sql`NULL`,
        sql`${reason}`,
        sql`NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = lower(trim(c.email)))`,
        now,
      ),
    ),
    // The file's own suppression reason first, so it wins over `unsubscribed` for a row with both.
    ...suppressChunks.map((rows) => suppressAddresses(db, rows, sql`${reason}`)),
    ...unsubscribeChunks.map((rows) => suppressAddresses(db, rows, sql`${UNSUBSCRIBED_REASON}`)),
    ...unsubscribeChunks.map((rows) =>
      db.run(sql`UPDATE contacts SET
          unsubscribed_at = (SELECT json_extract(j.value, '$[1]') FROM json_each(${rows}) AS j WHERE json_extract(j.value, '$[0]') = contacts.external_id),
          updated_at = ${now.getTime()}
        WHERE unsubscribed_at IS NULL
          AND external_id IN (SELECT json_extract(value, '$[0]') FROM json_each(${rows}))`),
    ),
    ...topicChoiceStatements(db, valid, now),
  ];
}

type Sql = ReturnType<typeof sql>;

/** `rows` is a JSON array of [externalId, epoch ms]; the contacts named there are `c`. */
function recordChange(db: Database, rows: string, field: string, from: Sql, to: Sql, when: Sql, now: Date) {
  return db.run(sql`INSERT INTO contact_changes (contact_id, field, old_value, new_value, source, event_id, changed_at)
    SELECT c.id, ${field}, ${from}, ${to}, 'import', NULL, ${now.getTime()}
    FROM json_each(${rows}) AS j JOIN contacts c ON c.external_id = ${personKey(sql`json_extract(j.value, '$[0]')`)}
    WHERE ${when}`);
}

/** Suppresses the current address of each contact in `rows`, from the row's time; a suppressed address keeps its reason. */
function suppressAddresses(db: Database, rows: string, reason: Sql) {
  return db.run(sql`INSERT INTO suppressions (email, reason, created_at)
    SELECT lower(trim(c.email)), ${reason}, json_extract(j.value, '$[1]')
    FROM json_each(${rows}) AS j JOIN contacts c ON c.external_id = ${personKey(sql`json_extract(j.value, '$[0]')`)}
    WHERE c.email IS NOT NULL
    ON CONFLICT (email) DO NOTHING`);
}
