import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { adminAuth, call, ingestAuth } from "./helpers";

type OpenApi = { paths: Record<string, Record<string, unknown>> };

const WRITE_METHODS = ["post", "put", "patch"];
const TABLES = ["events", "contacts", "enrollments", "emails", "suppressions", "journey_settings", "backfill_jobs"];
const ALLOWED = new Set([200, 202, 400, 401, 404, 409, 413, 415, 422]);

const PATH_VALUES: Record<string, string> = {
  key: "activation-welcome",
  idOrExternalId: "fuzz_user",
  jobId: crypto.randomUUID(),
};

function authFor(path: string): Record<string, string> {
  if (path.startsWith("/v1/admin/")) return adminAuth();
  if (path.startsWith("/v1/ingest")) return ingestAuth();
  if (path === "/v1/webhooks/posthog") return { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET };
  return {};
}

async function tableCounts(): Promise<number[]> {
  const results = await env.DB.batch(TABLES.map((t) => env.DB.prepare(`SELECT count(*) AS n FROM ${t}`)));
  return results.map((r) => (r.results[0] as { n: number }).n);
}

/** Bodies that are not what any route wants: random JSON, wrong types, huge strings, deep nesting, broken JSON. */
const hostileBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .dictionary(
      fc.constantFrom(
        "event",
        "userId",
        "users",
        "eventIds",
        "filter",
        "enabled",
        "format",
        "data",
        "limit",
        "dryRun",
        "unsubscribed",
      ),
      fc.anything(),
    )
    .map((v) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x))),
  fc.nat({ max: 300 }).map((depth) => "[".repeat(depth) + "]".repeat(depth)),
  fc.nat({ max: 60 }).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc.constantFrom('{"event":', "{", "nul", '{"a":1,}', "\u0000\u0001", "", '"just a string"', "1e999999"),
  fc.string({ maxLength: 50 }),
  fc.constant(JSON.stringify({ event: "x".repeat(300_000), userId: "u" })),
);

let routes: Array<{ method: string; path: string; template: string }> = [];

beforeAll(async () => {
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId: "fuzz_user", userEmail: "fuzz@example.com" },
  });
  const doc = (await (await call("/openapi.json")).json()) as OpenApi;
  routes = Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.keys(ops)
      .filter((m) => WRITE_METHODS.includes(m))
      .map((method) => ({
        method: method.toUpperCase(),
        template,
        path: template.replace(/\{([^}]+)\}/g, (_m, name: string) => PATH_VALUES[name] ?? "x"),
      })),
  );
});

describe("bad input on every write route", () => {
  it("covers the write routes", () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
  });

  it("never answers 500, always the error shape, and a refused request writes nothing", async () => {
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(hostileBody, async (body) => {
          const before = await tableCounts();
          const res = await call(route.path, {
            method: route.method,
            headers: { ...authFor(route.template), "content-type": "application/json" },
            body,
          });
          const text = await res.text();
          const where = `${route.method} ${route.template} with ${JSON.stringify(body.slice(0, 80))} → ${res.status} ${text.slice(0, 200)}`;
          expect(ALLOWED.has(res.status), where).toBe(true);
          if (res.status >= 400) {
            const parsed = JSON.parse(text) as { error: unknown; code: unknown; requestId: unknown };
            expect(typeof parsed.error, where).toBe("string");
            expect(typeof parsed.code, where).toBe("string");
            expect(typeof parsed.requestId, where).toBe("string");
            expect(await tableCounts(), where).toEqual(before);
          }
        }),
        { numRuns: 25, seed: 20261126 },
      );
    }
  });
});
