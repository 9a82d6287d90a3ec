import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb, runBatch } from "../src/db/client";
import worker from "../src/index";
import { processBackfillPage } from "../src/pipeline/backfill-page";
import { contactUpsertStatements } from "../src/services/contacts";
import { idleDeps } from "./backfill-helpers";
import { assertConforms } from "./conformance";
import { adminAuth, ndjsonText, unique } from "./helpers";

/**
 * D1 refuses a LIKE or GLOB pattern over 50 bytes ("LIKE or GLOB pattern too complex"); the local
 * SQLite the tests run on doesn't. This binding fails such statements the way D1 does: any
 * statement using LIKE or GLOB with a bound text over 50 UTF-8 bytes.
 */
function likeCapped(d1: D1Database): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const usesPattern = (query: string) => /\b(LIKE|GLOB)\b/i.test(query);
  const tooLong = (value: unknown) => typeof value === "string" && new TextEncoder().encode(value).length > 50;
  const wrap = (statement: D1PreparedStatement, query: string): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") {
          return (...values: unknown[]) => {
            if (usesPattern(query) && values.some(tooLong)) {
              throw new Error("D1_ERROR: LIKE or GLOB pattern too complex: SQLITE_ERROR");
            }
            return wrap(target.bind(...values), query);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "prepare") return (query: string) => wrap(target.prepare(query), query);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => target.batch(statements.map((s) => originals.get(s) ?? s));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The Worker with D1's pattern cap, every JSON answer checked against its documented schema. */
async function cappedCall(path: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const headers = new Headers({ ...adminAuth(), ...(json ? { "content-type": "application/json" } : {}) });
  const request = new Request(`http://localhost${path}`, {
    ...rest,
    headers,
    body: json ? JSON.stringify(json) : undefined,
  });
  const res = await worker.fetch(request, { ...env, DB: likeCapped(env.DB) }, createExecutionContext());
  await assertConforms(request.method, new URL(request.url).pathname, res);
  return res;
}

async function seed(rows: Array<{ externalId: string; email?: string }>) {
  const db = createDb(env.DB);
  await runBatch(db, contactUpsertStatements(db, rows));
}

const q = encodeURIComponent;

describe("search terms longer than D1's 50-byte LIKE pattern", () => {
  const t = unique("ls");
  const long = `${t}_${"x".repeat(49 - t.length - 1)}`; // 49 characters
  const underscores = "_".repeat(25);
  const accents = "é".repeat(25);
  const rows = [
    { externalId: long, email: `${long}@example.com` },
    { externalId: `${t}_u_${underscores}` },
    { externalId: `${t}_a_${accents}` },
    { externalId: `${t}_other`, email: `${"y".repeat(60)}@${t}.example.com` },
  ];

  it("lists contacts for a 49-character term, 25 underscores, 25 accented letters, and the longest term allowed", async () => {
    await seed(rows);
    const ids = async (search: string) => {
      const res = await cappedCall(`/v1/admin/contacts?search=${q(search)}&limit=100`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { contacts: Array<{ externalId: string }> };
      return body.contacts.map((c) => c.externalId).filter((id) => id.startsWith(t));
    };
    expect(long).toHaveLength(49);
    expect(await ids(long)).toEqual([long]);
    expect(await ids(long.toUpperCase())).toEqual([long]); // case-insensitive, as before
    expect(await ids(underscores)).toEqual([`${t}_u_${underscores}`]); // `_` matches itself only
    expect(await ids(accents)).toEqual([`${t}_a_${accents}`]);
    expect(await ids(`${"y".repeat(60)}@${t}`)).toEqual([`${t}_other`]);
    expect(await ids("z".repeat(320))).toEqual([]);
    expect((await cappedCall(`/v1/admin/contacts?search=${"z".repeat(321)}`)).status).toBe(400);
  });

  it("answers a term with control characters (NUL included) without a 500", async () => {
    for (const search of ["\u0000", `${t}\u0000`, "a\u0001b", "\u007f"]) {
      const res = await cappedCall(`/v1/admin/contacts?search=${q(search)}`);
      expect(res.status).toBe(200);
      const exported = await cappedCall(`/v1/admin/contacts/export?format=ndjson&search=${q(search)}`);
      expect(exported.status).toBe(200);
      const preview = await cappedCall("/v1/admin/journeys/activation-welcome/backfill", {
        method: "POST",
        json: { filter: { search }, dryRun: true },
      });
      expect(preview.status).toBe(200);
    }
  });

  it("exports them", async () => {
    const res = await cappedCall(`/v1/admin/contacts/export?format=ndjson&search=${q(long)}`);
    expect(res.status).toBe(200);
    const lines = (await ndjsonText(res)).trim().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { externalId: string }).externalId)).toEqual([long]);
    const csv = await cappedCall(`/v1/admin/contacts/export?format=csv&search=${q(accents)}`);
    expect(csv.status).toBe(200);
    expect(await csv.text()).toContain(`${t}_a_${accents}`);
  });

  it("filters a backfill by them: the preview answers, and the job completes", async () => {
    const preview = await cappedCall("/v1/admin/journeys/activation-welcome/backfill", {
      method: "POST",
      json: { filter: { search: long }, dryRun: true },
    });
    expect(preview.status).toBe(200);
    expect(await preview.json()).toMatchObject({ dryRun: true, matched: 1 });

    const started = await cappedCall("/v1/admin/journeys/activation-welcome/backfill", {
      method: "POST",
      json: { filter: { search: underscores }, dryRun: true, pageSize: 10 },
    });
    expect(started.status).toBe(200);

    const job = await cappedCall("/v1/admin/journeys/activation-welcome/backfill", {
      method: "POST",
      json: { filter: { search: accents } },
    });
    expect(job.status).toBe(202);
    const { id } = (await job.json()) as { id: string };
    const deps = { ...idleDeps(), db: createDb(likeCapped(env.DB)) };
    for (let i = 0; i < 20; i++) {
      const cursor = await env.DB.prepare("SELECT status, cursor FROM backfill_jobs WHERE id = ?")
        .bind(id)
        .first<{ status: string; cursor: string }>();
      if (cursor!.status !== "processing" && cursor!.status !== "pending") break;
      await processBackfillPage(deps, { jobId: id, cursor: cursor!.cursor });
    }
    const done = await env.DB.prepare("SELECT status, matched, error FROM backfill_jobs WHERE id = ?")
      .bind(id)
      .first<{ status: string; matched: number; error: string | null }>();
    // The contact has no address, so it is matched and skipped (no_email), never a failed job.
    expect(done).toEqual({ status: "completed", matched: 1, error: null });
  });
});
