// Bench-only Worker (never deployed, not part of src/): the baselines for bench/import.mjs. It
// upserts the benchmark's rows straight into its own local D1 with the import's merge (same
// columns, same `ON CONFLICT (external_id) DO UPDATE`), many statements per db.batch, all in one
// request, and no parsing, validation, R2, queue or checkpoints. Two forms:
//   ?form=json    the ceiling: one JSON-array parameter per statement expanded with json_each
//   ?form=params  for reference: 11 rows per statement at the 100-bound-parameter limit
//   ?form=suppressions  bench/suppression-import.mjs's ceiling: the same addresses inserted into
//                 the suppression list, one json_each statement per JSON parameter
import { v7 as uuidv7 } from "uuid";

const MERGE =
  "ON CONFLICT (external_id) DO UPDATE SET email = coalesce(excluded.email, contacts.email), " +
  "properties = json_patch(contacts.properties, excluded.properties), updated_at = excluded.updated_at, " +
  "import_job_id = excluded.import_job_id WHERE contacts.import_job_id IS NOT excluded.import_job_id";
const JSON_SQL =
  "INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at, import_job_id) " +
  "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), " +
  `json_extract(value, '$[3]'), ?1, ?1, ?2 FROM json_each(?3) WHERE true ${MERGE}`;
const COLUMNS = "id, external_id, email, properties, created_at, updated_at, import_job_id";
const PARAMS_PER_ROW = 7;
const PLANS = ["free", "pro", "team"];
const SOURCES = ["ads", "organic", "referral", "partner"];

const rowOf = (prefix, i) => [
  uuidv7(),
  `${prefix}_${i}`,
  `${prefix}.${i}@example.com`,
  { plan: PLANS[i % 3], company: `Company ${i % 1000}`, source: SOURCES[i % 4] },
];

/** Statements for rows [from, to): JSON arrays of at most `paramBytes`, or 100-parameter VALUES lists. */
function statements(db, form, prefix, from, to, now, paramBytes) {
  const out = [];
  if (form === "json") {
    let parts = [];
    let size = 2;
    const flush = () => {
      out.push(db.prepare(JSON_SQL).bind(now, prefix, `[${parts.join(",")}]`));
      parts = [];
      size = 2;
    };
    for (let i = from; i < to; i++) {
      const json = JSON.stringify(rowOf(prefix, i));
      if (parts.length > 0 && size + json.length + 1 > paramBytes) flush();
      parts.push(json);
      size += json.length + 1;
    }
    if (parts.length > 0) flush();
    return out;
  }
  const perStatement = Math.floor(100 / PARAMS_PER_ROW);
  for (let start = from; start < to; start += perStatement) {
    const n = Math.min(perStatement, to - start);
    const params = [];
    for (let i = start; i < start + n; i++) {
      const [id, externalId, email, properties] = rowOf(prefix, i);
      params.push(id, externalId, email, JSON.stringify(properties), now, now, prefix);
    }
    const values = Array(n)
      .fill(`(${Array(PARAMS_PER_ROW).fill("?").join(",")})`)
      .join(",");
    out.push(db.prepare(`INSERT INTO contacts (${COLUMNS}) VALUES ${values} ${MERGE}`).bind(...params));
  }
  return out;
}

const SUPPRESS_SQL =
  "INSERT INTO suppressions (email, reason, source, created_at) SELECT lower(json_extract(value, '$[0]')), " +
  "json_extract(value, '$[1]'), ?1, ?2 FROM json_each(?3) WHERE true ON CONFLICT (email) DO NOTHING";

/** The suppression ceiling: rows [from, to) as `${prefix}.${i}@example.com`, source = prefix. */
async function suppressRows(env, prefix, rows, rowsPerBatch, paramBytes) {
  const now = Date.now();
  for (let from = 0; from < rows; from += rowsPerBatch) {
    const out = [];
    let parts = [];
    let size = 2;
    const flush = () => {
      out.push(env.DB.prepare(SUPPRESS_SQL).bind(prefix, now, `[${parts.join(",")}]`));
      parts = [];
      size = 2;
    };
    for (let i = from; i < Math.min(rows, from + rowsPerBatch); i++) {
      const json = JSON.stringify([`${prefix}.${i}@example.com`, i % 7 === 0 ? "complaint" : "hard_bounce"]);
      if (parts.length > 0 && size + json.length + 1 > paramBytes) flush();
      parts.push(json);
      size += json.length + 1;
    }
    if (parts.length > 0) flush();
    await env.DB.batch(out);
  }
  return env.DB.prepare("SELECT count(*) AS n FROM suppressions WHERE source = ?").bind(prefix).first("n");
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (!url.searchParams.has("rows")) return new Response("baseline worker ready\n");
    if (url.searchParams.get("form") === "suppressions") {
      const rows = Number(url.searchParams.get("rows"));
      const started = performance.now();
      const inserted = await suppressRows(env, url.searchParams.get("prefix"), rows, 20_000, 256 * 1024);
      return Response.json({ rows, inserted, seconds: (performance.now() - started) / 1000 });
    }
    const rows = Number(url.searchParams.get("rows"));
    const prefix = url.searchParams.get("prefix");
    const form = url.searchParams.get("form") === "params" ? "params" : "json";
    const rowsPerBatch = Number(url.searchParams.get("rowsPerBatch") ?? 20_000);
    const paramBytes = Number(url.searchParams.get("paramBytes") ?? 256 * 1024);
    const now = Date.now();
    const started = performance.now();
    for (let from = 0; from < rows; from += rowsPerBatch) {
      await env.DB.batch(statements(env.DB, form, prefix, from, Math.min(rows, from + rowsPerBatch), now, paramBytes));
    }
    const count = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE import_job_id = ?")
      .bind(prefix)
      .first("n");
    return Response.json({ rows, inserted: count, seconds: (performance.now() - started) / 1000 });
  },
};
