import { type SQL, sql } from "drizzle-orm";
import { type Database, failedWith } from "../db/client";
import type { Properties } from "../db/schema";
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

const bytesOf = (json: SQL) => sql`coalesce(length(CAST(${json} AS BLOB)), 0)`;

/**
 * 1 when `merged` (what the write makes of `current`) would take the contact past a cap (bytes of
 * UTF-8 JSON, top-level keys), or further past it. `upperBytes` bounds the merged size (both sides
 * together): small contacts skip the exact test, which parses and merges both sides. `merged`
 * appears once per cap (`x > cap AND x > current` is `x > max(cap, current)`): each copy is merged again.
 */
function exceeds(current: SQL, merged: SQL, upperBytes: SQL): SQL {
  const keys = (json: SQL) => sql`(SELECT count(*) FROM json_each(${json}))`;
  // Past a cap and growing: a contact already over it (written before the caps) may still shrink.
  const exact = sql`${bytesOf(merged)} > max(${MAX_BYTES}, ${bytesOf(current)})
    OR ${keys(merged)} > max(${MAX_KEYS}, ${keys(current)})`;
  return sql`(CASE WHEN ${upperBytes} <= ${SURELY_FITS} THEN 0 ELSE (${exact}) END)`;
}

/**
 * `merged`, or `current` when it would pass the caps (exceeds), merging once: a FROM-less
 * subquery is never flattened into its user, so `u.m` is the merge computed once, not a copy of it.
 */
function capped(current: SQL, merged: SQL, upperBytes: SQL): SQL {
  const m = sql.raw("u.m");
  return sql`(SELECT CASE WHEN ${exceeds(current, m, upperBytes)} THEN ${current} ELSE ${m} END FROM (SELECT ${merged} AS m) AS u)`;
}

/** 1 when merge-patching `patch` into `current` would take it past a contact cap, or further past it. */
export const mergeExceeds = (current: SQL, patch: SQL): SQL =>
  exceeds(current, sql`json_patch(${current}, ${patch})`, sql`${bytesOf(current)} + ${bytesOf(patch)}`);

/**
 * The merge every contact write makes, in SQL where it runs: the patched properties, or the
 * current ones unchanged when the patch would take them past the caps. The checks that report
 * a refused merge (below, and the import's) use the same `mergeExceeds`, so they agree exactly.
 */
export const cappedMerge = (current: SQL, patch: SQL): SQL =>
  capped(current, sql`json_patch(${current}, ${patch})`, sql`${bytesOf(current)} + ${bytesOf(patch)}`);

/**
 * The import's merge: like cappedMerge, but a patch past the caps makes the value NULL, which the
 * NOT NULL column refuses, so the statement (and the chunk's whole batch) fails with
 * `CONTACT_CAPS_REFUSAL`. An import reads which rows are over the caps only then, instead of
 * before every chunk; the usual chunk, with none, pays nothing for the check.
 */
export const refusingMerge = (current: SQL, patch: SQL): SQL =>
  sql`CASE WHEN ${mergeExceeds(current, patch)} THEN NULL ELSE json_patch(${current}, ${patch}) END`;

export const CONTACT_CAPS_REFUSAL = "NOT NULL constraint failed: contacts.properties";

export const isContactCapsRefusal = (err: unknown): boolean => failedWith(err, CONTACT_CAPS_REFUSAL);

/**
 * Whether `current` lacks the key `f.key`: looked up by path (the contact's other keys are not
 * read, and D1 counts each json_each row as a row read), except for a key a quoted path can't name.
 */
const lacks = (current: SQL) =>
  sql`CASE WHEN f.key = '' OR f.key GLOB '*["\\]*' THEN f.key NOT IN (SELECT key FROM json_each(${current}))
    ELSE json_type(${current}, '$."' || f.key || '"') IS NULL END`;

/**
 * The keys of `setOnce` that `current` lacks, as an object (PostHog's `$set_once`). json_each
 * hands booleans, nulls and containers over as SQL values: they are turned back into JSON.
 */
const missingKeys = (setOnce: SQL, current: SQL) =>
  sql`(SELECT json_group_object(f.key, CASE f.type WHEN 'true' THEN json('true') WHEN 'false' THEN json('false')
      WHEN 'null' THEN json('null') WHEN 'object' THEN json(f.value) WHEN 'array' THEN json(f.value) ELSE f.value END)
    FROM json_each(${setOnce}) AS f WHERE ${lacks(current)})`;

/** PostHog's order: `$set_once` fills missing keys, then `set` (with `$unset` as nulls) is merged over. */
const updated = (current: SQL, set: SQL, setOnce: SQL) =>
  sql`json_patch(json_patch(${current}, ${missingKeys(setOnce, current)}), ${set})`;

/** Whether a person-model update (`set`, and `setOnce`, which may be NULL) would pass a cap. */
export const updateExceeds = (current: SQL, set: SQL, setOnce: SQL): SQL =>
  exceeds(current, updated(current, set, setOnce), sql`${bytesOf(current)} + ${bytesOf(set)} + ${bytesOf(setOnce)}`);

/** cappedMerge for a person-model update: with a NULL `setOnce` it is exactly cappedMerge of `set`. */
export const cappedUpdate = (current: SQL, set: SQL, setOnce: SQL): SQL =>
  capped(current, updated(current, set, setOnce), sql`${bytesOf(current)} + ${bytesOf(set)} + ${bytesOf(setOnce)}`);

/**
 * The events among `eventIds`, stored and unprocessed, whose properties their contact can't take
 * now. It reads what the upserts after it will see, so it runs in their batch, just ahead of them.
 */
export function refusedMergesStatement(db: Database, eventIds: string[]) {
  return db.all<{ id: string }>(
    sql`SELECT e.id AS id FROM json_each(${JSON.stringify(eventIds)}) AS j
      CROSS JOIN events e ON e.id = j.value
      JOIN contacts c ON c.external_id = e.user_id
      WHERE e.processed_at IS NULL AND ${updateExceeds(
        sql`c.properties`,
        sql`coalesce(json_extract(e.contact_update, '$.set'), e.properties)`,
        sql`json_extract(e.contact_update, '$.setOnce')`,
      )}`,
  );
}

/** A new contact's properties from a person-model update: `setOnce` under `set`, no nulls (they unset). */
export function createdWith(set: Properties, setOnce: Properties): Properties {
  return Object.fromEntries(Object.entries({ ...setOnce, ...set }).filter(([, value]) => value !== null));
}

/**
 * The properties an upsert leaves on an existing contact: `excluded.properties` merged in, or,
 * for rows with `setOnce`, their update as one JSON parameter keyed by the id each row's insert
 * would have had (`excluded.id`: new, so unique and path-safe), whatever contact, by id or alias, it lands on.
 */
export function propertiesSet(chunk: Array<{ id: string; properties?: Properties; setOnce?: Properties }>): SQL {
  const current = sql`"contacts"."properties"`;
  const updates = chunk.filter((row) => row.setOnce);
  if (updates.length === 0) return cappedMerge(current, sql`excluded.properties`);
  const byId = JSON.stringify(Object.fromEntries(updates.map((row) => [row.id, [row.properties ?? {}, row.setOnce]])));
  const update = (part: 0 | 1) => sql`json_extract(${byId}, '$."' || excluded.id || '"[${sql.raw(String(part))}]')`;
  return cappedUpdate(current, sql`coalesce(${update(0)}, excluded.properties)`, update(1));
}
