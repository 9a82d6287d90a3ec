import { type SQL, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { CONTACT_PROPERTIES_MAX_BYTES, CONTACT_PROPERTIES_MAX_KEYS } from "../../lib/properties";
import { mergeExceeds } from "../contact-properties";
import type { ContactUpsert } from "../contacts";
import { jsonParamChunks } from "./json-params";

const MAX_BYTES = sql.raw(String(CONTACT_PROPERTIES_MAX_BYTES));
const MAX_KEYS = sql.raw(String(CONTACT_PROPERTIES_MAX_KEYS));
const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

/**
 * The externalIds among these rows whose properties their existing contact can't take (the
 * contact caps): they become row errors. A first read sends only sizes, and finds the contacts a
 * merge could take past a cap (a merge is at most the sum of both sides' bytes and keys, and a
 * stored key takes at least 4 characters of JSON); only those are checked exactly, with the row's
 * properties. A real run reads this only after its commit was refused (refusingMerge, the same
 * test in SQL); a dry run, which upserts nothing, reads it for every chunk.
 */
export async function rowsOverContactCaps(db: Database, rows: ContactUpsert[]): Promise<Set<string>> {
  const patches = new Map<string, string>();
  const sizes: Array<[string, number, number]> = [];
  for (const contact of rows) {
    const keys = Object.keys(contact.properties ?? {}).length;
    if (keys === 0) continue;
    const json = JSON.stringify(contact.properties);
    patches.set(contact.externalId, json);
    sizes.push([contact.externalId, utf8Bytes(json), keys]);
  }
  if (sizes.length === 0) return new Set();
  const candidates = await readIds(
    db,
    jsonParamChunks(sizes).map(
      (json) => sql`SELECT c.external_id AS id FROM json_each(${json}) AS j
        CROSS JOIN contacts c ON c.external_id = json_extract(j.value, '$[0]')
        WHERE length(CAST(c.properties AS BLOB)) + json_extract(j.value, '$[1]') > ${MAX_BYTES}
          OR (length(c.properties) / 4 + json_extract(j.value, '$[2]') > ${MAX_KEYS}
            AND (SELECT count(*) FROM json_each(c.properties)) + json_extract(j.value, '$[2]') > ${MAX_KEYS})`,
    ),
  );
  if (candidates.length === 0) return new Set();
  const exact = candidates.map((id) => [id, patches.get(id)]);
  return new Set(
    await readIds(
      db,
      jsonParamChunks(exact).map(
        (json) => sql`SELECT c.external_id AS id FROM json_each(${json}) AS j
          CROSS JOIN contacts c ON c.external_id = json_extract(j.value, '$[0]')
          WHERE ${mergeExceeds(sql`c.properties`, sql`json(json_extract(j.value, '$[1]'))`)}`,
      ),
    ),
  );
}

/** The ids the queries select, read in one round trip. */
async function readIds(db: Database, queries: SQL[]): Promise<string[]> {
  const results = (await runBatch(
    db,
    queries.map((query) => db.all<{ id: string }>(query)),
  )) as Array<Array<{ id: string }>>;
  return results.flatMap((rows) => rows.map((row) => row.id));
}
