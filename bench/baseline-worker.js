// Bench-only Worker (never deployed, not part of src/): the baseline for bench/import.mjs. It
// upserts the benchmark's rows straight into D1 with the import's own statement at the platform's
// limit (100 bound parameters: 11 rows of 9 columns per statement), many statements per
// db.batch, and no parsing, validation, R2 or queue. It shares the main Worker's local database
// (same D1 binding name, no id, and --persist-to), and runs while the main dev server is stopped.
import { v7 as uuidv7 } from "uuid";

const COLUMNS =
  "id, external_id, email, properties, unsubscribed_at, first_seen_at, last_seen_at, created_at, updated_at";
const COLUMN_COUNT = COLUMNS.split(",").length;
const UPSERT_TAIL =
  "ON CONFLICT (external_id) DO UPDATE SET email = coalesce(excluded.email, contacts.email), properties = json_patch(contacts.properties, excluded.properties), " +
  "first_seen_at = coalesce(min(contacts.first_seen_at, excluded.first_seen_at), contacts.first_seen_at, excluded.first_seen_at), " +
  "last_seen_at = coalesce(max(contacts.last_seen_at, excluded.last_seen_at), contacts.last_seen_at, excluded.last_seen_at), updated_at = excluded.updated_at";
const PLANS = ["free", "pro", "team"];
const SOURCES = ["ads", "organic", "referral", "partner"];

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (!url.searchParams.has("rows")) return new Response("baseline worker ready\n");
    const rows = Number(url.searchParams.get("rows"));
    const prefix = url.searchParams.get("prefix");
    const perStatement = Number(url.searchParams.get("perStatement") ?? Math.floor(100 / COLUMN_COUNT));
    const statementsPerBatch = Number(url.searchParams.get("statementsPerBatch") ?? 500);
    const now = Date.now();
    const sqlFor = (n) =>
      `INSERT INTO contacts (${COLUMNS}) VALUES ${Array(n)
        .fill(`(${Array(COLUMN_COUNT).fill("?").join(",")})`)
        .join(",")} ${UPSERT_TAIL}`;
    const full = env.DB.prepare(sqlFor(perStatement));

    const started = performance.now();
    let statements = [];
    let params = [];
    for (let i = 0; i < rows; i++) {
      const props = JSON.stringify({ plan: PLANS[i % 3], company: `Company ${i % 1000}`, source: SOURCES[i % 4] });
      params.push(uuidv7(), `${prefix}_${i}`, `${prefix}.${i}@example.com`, props, null, null, null, now, now);
      const inStatement = params.length / COLUMN_COUNT;
      if (inStatement === perStatement || i === rows - 1) {
        statements.push((inStatement === perStatement ? full : env.DB.prepare(sqlFor(inStatement))).bind(...params));
        params = [];
      }
      if (statements.length === statementsPerBatch || (i === rows - 1 && statements.length > 0)) {
        await env.DB.batch(statements);
        statements = [];
      }
    }
    const count = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE substr(external_id, 1, ?) = ?")
      .bind(prefix.length + 1, `${prefix}_`)
      .first("n");
    return Response.json({ rows, inserted: count, seconds: (performance.now() - started) / 1000 });
  },
};
