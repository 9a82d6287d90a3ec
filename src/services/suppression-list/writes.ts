import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { KeyedHash } from "../../lib/keyed-hash";
import { countedJsonParamChunks } from "../imports/json-params";
import { hashedForms } from "../suppressions";
import { isStoredHash, type SuppressionEntry } from "./rows";

/** An entry as one JSON row for json_each: [address, keyed hash, legacy hash, reason, source, epoch ms]. */
type Packed = [string, string | null, string | null, string, string, number];

/**
 * Erased people's addresses are suppressed only as hashes, so a clear address is checked against
 * its hashed forms too (an erased person's entry is never written back in clear). Hashing is per
 * row, so an import skips it while the list holds no hash of that kind (`hashKinds`).
 */
export async function packEntries(
  hash: KeyedHash,
  entries: SuppressionEntry[],
  kinds: HashKinds = { keyed: true, legacy: true },
): Promise<Array<{ json: string; count: number }>> {
  const hashing = kinds.keyed || kinds.legacy;
  const packed = await Promise.all(
    entries.map(async (e): Promise<Packed> => {
      if (!hashing || isStoredHash(e.address)) return [e.address, null, null, e.reason, e.source, e.at];
      const [keyed, legacy] = (await hashedForms(hash, e.address)).hashed;
      return [e.address, kinds.keyed ? keyed! : null, kinds.legacy ? legacy! : null, e.reason, e.source, e.at];
    }),
  );
  return countedJsonParamChunks(packed);
}

export type HashKinds = { keyed: boolean; legacy: boolean };

/** Which kinds of hashed entries the list holds at all: one indexed probe of each prefix. */
export async function hashKinds(db: Database): Promise<HashKinds> {
  const row = await db.get<{ keyed: number; legacy: number }>(
    sql`SELECT EXISTS (SELECT 1 FROM suppressions WHERE email >= 'hmac:' AND email < 'hmac;') AS keyed,
      EXISTS (SELECT 1 FROM suppressions WHERE email >= 'sha256:' AND email < 'sha256;') AS legacy`,
  );
  return { keyed: Boolean(row?.keyed), legacy: Boolean(row?.legacy) };
}

const address = sql`lower(json_extract(value, '$[0]'))`;
const notHashed = (kinds: HashKinds) =>
  kinds.keyed || kinds.legacy
    ? sql`AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email IN (json_extract(value, '$[1]'), json_extract(value, '$[2]')))`
    : sql``;

/**
 * Suppresses the packed entries that aren't suppressed yet, in clear or hashed; an entry already
 * there keeps its reason, source and time (nothing here lifts or changes one). `RETURNING` names
 * the addresses it added: a repeat within the rows is added once.
 */
export function insertSuppressions(db: Database, rows: string, kinds: HashKinds, { returning = false } = {}) {
  // `WHERE true`: SQLite can't tell ON CONFLICT from a join constraint after a bare INSERT … SELECT.
  const statement = sql`INSERT INTO suppressions (email, reason, source, created_at)
    SELECT ${address}, json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
    FROM json_each(${rows}) WHERE true ${notHashed(kinds)}
    ON CONFLICT (email) DO NOTHING`;
  return returning ? db.all<{ email: string }>(sql`${statement} RETURNING email`) : db.run(statement);
}

/**
 * A dry run's stand-in for `insertSuppressions`: the addresses it would add go to import_seen_ids
 * (so a repeat in a later chunk counts as already suppressed), nothing to the list.
 */
export function rememberWouldSuppress(db: Database, jobId: string, rows: string, kinds: HashKinds) {
  return db.run(sql`INSERT INTO import_seen_ids (job_id, external_id)
    SELECT ${jobId}, ${address} FROM json_each(${rows})
    WHERE NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = ${address}) ${notHashed(kinds)}
    ON CONFLICT DO NOTHING`);
}

/**
 * Counts the rows the statement just before it did not add as already suppressed. `changes()` is
 * the row count of the connection's last completed INSERT, and a D1 batch runs its statements in
 * order on one connection: this must directly follow that statement in the same batch.
 */
export function countAlreadySuppressed(db: Database, jobId: string, rowsInStatement: number) {
  return db.run(sql`UPDATE import_jobs SET already_suppressed = already_suppressed + ${rowsInStatement} - changes()
    WHERE id = ${jobId}`);
}
