// The rule test:docs compares answers by (compare.mjs), on the drifts it was written to catch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { differences, parseJsonValues } from "./compare.mjs";
import { shellExamples } from "./examples.mjs";

const compare = (actual, shown, options) => differences(actual, parseJsonValues(shown)[0], "$", options);

describe("comparing an answer with the JSON a doc shows", () => {
  it("catches a stale count and a stale name (health's migrations)", () => {
    const shown = '{"status":"ok","migrations":{"applied":5,"latest":"0004_a.sql","missingTables":[]}}';
    const real = { status: "ok", migrations: { applied: 14, latest: "0013_b.sql", missingTables: [] } };
    assert.deepEqual(compare(real, shown), [
      "$.migrations.applied: expected 5, got 14",
      '$.migrations.latest: expected "0004_a.sql", got "0013_b.sql"',
    ]);
  });

  it("catches a key the doc lacks (metrics' backfills) and one the server dropped", () => {
    assert.deepEqual(compare({ a: 1, backfills: {} }, '{"a":1,"gone":null}'), [
      "$.gone: missing",
      "$.backfills: not in the doc",
    ]);
  });

  it("lets ids, times and shortened strings vary, but not enums or booleans", () => {
    const shown =
      '{"id":"01a2200e-ab5b-71a3-b285-e770c7d4baa1","at":"2026-11-28T02:49:22.011Z","etag":"HKgy…","status":"completed","duplicate":true}';
    const real = { id: "x", at: "2027-01-01T00:00:00.000Z", etag: "zzz", status: "pending", duplicate: false };
    assert.deepEqual(compare(real, shown), [
      '$.status: expected "completed", got "pending"',
      "$.duplicate: expected true, got false",
    ]);
    assert.deepEqual(compare({ ...real, at: null }, shown).slice(0, 1), [
      '$.at: expected string "2026-11-28T02:49:22.011Z", got null null',
    ]);
  });

  it("reads … as 'and more' in objects and arrays", () => {
    assert.deepEqual(compare({ a: 1, b: 2, c: [1, 2, 3] }, '{"a":1,"c":[1,…],…}'), []);
    assert.deepEqual(compare({ b: 2 }, '{"a":1,…}'), ["$.a: missing"]);
  });

  it("compares numbers by type when the doc says so", () => {
    assert.deepEqual(compare({ n: 7 }, '{"n":3}', { numbersByType: true }), []);
  });

  it("splits a block into the answers of its requests", () => {
    assert.equal(parseJsonValues('{"a":1}{"b":[2]}\n{"c":"x}"}').length, 3);
  });
});

describe("finding the examples of a document", () => {
  it("pairs an example with the JSON under it and refuses a skip nobody can see", () => {
    const md =
      '```sh\ncurl x\n```\n```json\n{"a":1}\n```\n\n<!-- docs-test: skip cloudflare-only -->\n```sh\nnpx wrangler tail\n```\n';
    assert.throws(() => shellExamples(md, "x.md"), /needs a visible paragraph/);
    const ok = md.replace("-->\n", "-->\nRuns on Cloudflare only:\n\n");
    const examples = shellExamples(ok, "x.md");
    assert.deepEqual(
      examples.map((e) => [e.code, e.skip, e.expected?.lang]),
      [
        ["curl x", null, "json"],
        ["npx wrangler tail", "cloudflare-only", undefined],
      ],
    );
  });
});
