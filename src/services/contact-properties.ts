import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { CONTACT_PROPERTIES_MAX_BYTES, CONTACT_PROPERTIES_MAX_KEYS } from "../lib/properties";

/** The per-item outcome of an event (or the reason of an import row error) whose merge was refused. */
export const PROPERTIES_LIMIT_OUTCOME = "skipped_properties_limit" as const;
export const PROPERTIES_LIMIT_ERROR = `properties: the contact would hold more than ${CONTACT_PROPERTIES_MAX_BYTES / 1024} KB or ${CONTACT_PROPERTIES_MAX_KEYS} keys`;

const MAX_BYTES = sql.raw(String(CONTACT_PROPERTIES_MAX_BYTES));
const MAX_KEYS = sql.raw(String(CONTACT_PROPERTIES_MAX_KEYS));

/**
 * Below this many bytes of both sides together a merge can't pass either cap: it is at most the
 * sum of both sides, and a top-level key takes at least 4 bytes of JSON (`"":0`).
 */
const SURELY_FITS = sql.raw(String(Math.min(CONTACT_PROPERTIES_MAX_BYTES, CONTACT_PROPERTIES_MAX_KEYS * 4)));

/**
 * 1 when merge-patching `patch` into `current` would take it past a contact cap (bytes of UTF-8
 * JSON, top-level keys), or further past it. Small contacts skip the exact test, which parses
 * and merges both sides.
 */
export function mergeExceeds(current: SQL, patch: SQL): SQL {
  const bytes = sql`length(CAST(${current} AS BLOB)) + length(CAST(${patch} AS BLOB))`;
  const merged = sql`json_patch(${current}, ${patch})`;
  const size = (json: SQL) => sql`length(CAST(${json} AS BLOB))`;
  const keys = (json: SQL) => sql`(SELECT count(*) FROM json_each(${json}))`;
  // Past a cap and growing: a contact already over it (written before the caps) may still shrink.
  const exact = sql`(${size(merged)} > ${MAX_BYTES} AND ${size(merged)} > ${size(current)})
    OR (${keys(merged)} > ${MAX_KEYS} AND ${keys(merged)} > ${keys(current)})`;
  return sql`(CASE WHEN ${bytes} <= ${SURELY_FITS} THEN 0 ELSE (${exact}) END)`;
}

/**
 * The merge every contact write makes, in SQL where it runs: the patched properties, or the
 * current ones unchanged when the patch would take them past the caps. The checks that report
 * a refused merge (below, and the import's) use the same `mergeExceeds`, so they agree exactly.
 */
export const cappedMerge = (current: SQL, patch: SQL): SQL =>
  sql`CASE WHEN ${mergeExceeds(current, patch)} THEN ${current} ELSE json_patch(${current}, ${patch}) END`;

/**
 * The import's merge: like cappedMerge, but a patch past the caps makes the value NULL, which the
 * NOT NULL column refuses, so the statement (and the chunk's whole batch) fails with
 * `CONTACT_CAPS_REFUSAL`. An import reads which rows are over the caps only then, instead of
 * before every chunk; the usual chunk, with none, pays nothing for the check.
 */
export const refusingMerge = (current: SQL, patch: SQL): SQL =>
  sql`CASE WHEN ${mergeExceeds(current, patch)} THEN NULL ELSE json_patch(${current}, ${patch}) END`;

export const CONTACT_CAPS_REFUSAL = "NOT NULL constraint failed: contacts.properties";

export const isContactCapsRefusal = (err: unknown): boolean =>
  err instanceof Error && `${err.message} ${String(err.cause ?? "")}`.includes(CONTACT_CAPS_REFUSAL);

/**
 * The events among `eventIds`, stored and unprocessed, whose properties their contact can't take
 * now. It reads what the upserts after it will see, so it runs in their batch, just ahead of them.
 */
export function refusedMergesStatement(db: Database, eventIds: string[]) {
  return db.all<{ id: string }>(
    sql`SELECT e.id AS id FROM json_each(${JSON.stringify(eventIds)}) AS j
      CROSS JOIN events e ON e.id = j.value
      JOIN contacts c ON c.external_id = e.user_id
      WHERE e.processed_at IS NULL AND ${mergeExceeds(sql`c.properties`, sql`e.properties`)}`,
  );
}
