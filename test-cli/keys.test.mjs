import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { parseDuration } from "../bin/lib/keys.mjs";
import { fakeServer } from "./fake-server.mjs";

const BIN = path.join(import.meta.dirname, "..", "bin", "hogsend.mjs");
const run = promisify(execFile);
const KEY = `hsk_${"a".repeat(43)}`;
const at = "2026-12-06T09:00:00.000Z";

function keysApi(req) {
  if (req.method === "POST" && req.path === "/v1/admin/api-keys") {
    const body = JSON.parse(req.body.toString());
    return { status: 201, json: { id: "k1", key: KEY, createdAt: at, expiresAt: body.expiresAt ?? null, ...body } };
  }
  const key = { id: "k1", name: "ci", scopes: ["operate"], createdAt: at, expiresAt: null, lastUsedAt: at };
  if (req.method === "GET" && req.path === "/v1/admin/api-keys")
    return { json: { keys: [{ ...key, revokedAt: null }] } };
  if (req.method === "DELETE" && req.path === "/v1/admin/api-keys/k1") return { json: { ...key, revokedAt: at } };
  if (req.method === "GET" && req.path === "/v1/admin/audit-log") {
    const entry = {
      id: "e1",
      at,
      keyId: "k1",
      keyName: "ci",
      method: "POST",
      route: "/v1/admin/events/replay",
      action: "replayEvents",
      targetIds: [],
      counts: { replayed: 3 },
      outcome: "ok",
      status: 200,
      requestId: "r1",
    };
    return { json: { entries: [entry], nextCursor: null } };
  }
  return null;
}

async function hogsend(args) {
  const server = await fakeServer(keysApi);
  try {
    const env = { ...process.env, HOGSEND_URL: server.url, HOGSEND_ADMIN_KEY: "admin" };
    const { stdout } = await run(process.execPath, [BIN, ...args], { env });
    return { stdout, requests: server.requests };
  } finally {
    await server.close();
  }
}

test("keys create: sends name and scopes, prints the key once with its id", async () => {
  const { stdout, requests } = await hogsend(["keys", "create", "--name", "ci", "--scope", "operate"]);
  assert.deepEqual(JSON.parse(requests[0].body.toString()), { name: "ci", scopes: ["operate"] });
  assert.equal(requests[0].headers.authorization, "Bearer admin");
  assert.match(stdout, /^Created key k1 \(ci: operate\), expires -$/m);
  assert.match(stdout, new RegExp(`^${KEY}$`, "m"));
});

test("keys create --expires-in and a scope that doesn't exist", async () => {
  const before = Date.now();
  const { requests } = await hogsend(["keys", "create", "--name", "ci", "--scope", "read", "--expires-in", "2w"]);
  const expiresAt = Date.parse(JSON.parse(requests[0].body.toString()).expiresAt);
  assert.ok(Math.abs(expiresAt - before - 14 * 86_400_000) < 60_000);
  const bad = await run(process.execPath, [BIN, "keys", "create", "--name", "x", "--scope", "root"]).catch((e) => e);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /one of ingest, read, operate, admin/);
});

test("keys list and keys revoke", async () => {
  const listed = await hogsend(["keys", "list"]);
  assert.equal(listed.requests[0].query.get("includeRevoked"), "false");
  assert.match(listed.stdout, /^k1\tci\toperate\t/m);
  assert.doesNotMatch(listed.stdout, /hsk_/);
  const revoked = await hogsend(["keys", "revoke", "k1"]);
  assert.equal(revoked.requests[0].method, "DELETE");
  assert.match(revoked.stdout, /^Revoked key k1 \(ci\) at /m);
});

test("audit --since 1d asks from a day ago, and prints who, what and how it ended", async () => {
  const before = Date.now();
  const { stdout, requests } = await hogsend(["audit", "--since", "1d", "--action", "replayEvents"]);
  const from = Date.parse(requests[0].query.get("from"));
  assert.ok(Math.abs(before - 86_400_000 - from) < 60_000);
  assert.equal(requests[0].query.get("action"), "replayEvents");
  assert.match(stdout, /\tci \(k1\)\treplayEvents\tok\t200\t-\treplayed=3$/m);
});

test("durations", () => {
  assert.equal(parseDuration("30m"), 1_800_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  for (const bad of ["1", "0d", "1y", "-1d"]) assert.throws(() => parseDuration(bad));
});
