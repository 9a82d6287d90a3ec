// The CLI handles an admin key and whole contact lists: it never sends the key in clear to another
// machine, writes exports readable by their owner only, and leaves nothing behind on Ctrl-C.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { createClient } from "../bin/lib/api.mjs";
import { fakeServer } from "./fake-server.mjs";

const BIN = path.join(import.meta.dirname, "..", "bin", "hogsend.mjs");
const run = promisify(execFile);
const cliEnv = (url, extra = {}) => ({ ...process.env, HOGSEND_URL: url, HOGSEND_ADMIN_KEY: "k", ...extra });

test("refuses http:// to anything but this machine, unless --insecure", async () => {
  const calls = [];
  const fetch = async (url) => {
    calls.push(url);
    return new Response("{}", { headers: { "content-type": "application/json" } });
  };
  for (const url of ["http://hogsend.example.com", "http://10.0.0.5:3002", "http://[2001:db8::1]", "ftp://x.test"]) {
    assert.throws(() => createClient({ url, adminKey: "k", fetch }), /https/, url);
  }
  assert.equal(calls.length, 0);
  for (const url of [
    "https://hogsend.example.com",
    "http://localhost:3002",
    "http://127.0.0.1:3002",
    "http://127.8.9.10",
    "http://[::1]:3002",
  ]) {
    const client = createClient({ url, adminKey: "k", fetch });
    await client.call(client.api.GET("/v1/health"));
  }
  const vouched = createClient({ url: "http://hogsend.example.com", adminKey: "k", fetch, insecure: true });
  await vouched.call(vouched.api.GET("/v1/health"));
  assert.equal(calls.length, 6);

  const refused = await run(process.execPath, [BIN, "jobs"], { env: cliEnv("http://hogsend.example.com") }).catch(
    (e) => e,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to send the admin key over plain http.*--insecure/i);
  // With --insecure it gets as far as the network (nothing listens on that name here).
  const insecure = await run(process.execPath, [BIN, "--insecure", "jobs"], {
    env: cliEnv("http://hogsend.invalid"),
  }).catch((e) => e);
  assert.equal(insecure.code, 1);
  assert.match(insecure.stderr, /Cannot reach/);
});

const PAGE = `${JSON.stringify({ id: "c1", externalId: "u1", email: "u1@example.com", properties: { a: 1 } })}\n`;

test("export --out writes a file only its owner can read, new or overwritten", async () => {
  const server = await fakeServer((req) =>
    req.path === "/v1/admin/contacts/export"
      ? { text: PAGE, headers: { "content-type": "application/x-ndjson" } }
      : null,
  );
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "hogsend-cli-test-"));
    const fresh = path.join(dir, "fresh.csv");
    await run(process.execPath, [BIN, "export", "--out", fresh], { env: cliEnv(server.url) });
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
    const existing = path.join(dir, "existing.csv");
    writeFileSync(existing, "old", { mode: 0o644 });
    await run(process.execPath, [BIN, "export", "--format", "ndjson", "--out", existing], { env: cliEnv(server.url) });
    assert.equal(statSync(existing).mode & 0o777, 0o600);
  } finally {
    await server.close();
  }
});

test("an export interrupted with Ctrl-C leaves no temporary file and no partial --out file", async () => {
  let served = 0;
  let secondPage;
  const secondPageAsked = new Promise((resolve) => {
    secondPage = resolve;
  });
  const server = await fakeServer((req) => {
    if (req.path !== "/v1/admin/contacts/export") return null;
    served += 1;
    if (served === 1) return { text: PAGE, headers: { "x-next-cursor": "2" } };
    secondPage();
    return new Promise(() => {}); // the second page never comes
  });
  const ownTmp = await mkdtemp(path.join(tmpdir(), "hogsend-cli-tmpdir-"));
  const out = path.join(ownTmp, "all.csv");
  const child = spawn(process.execPath, [BIN, "export", "--out", out], {
    env: cliEnv(server.url, { TMPDIR: ownTmp }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  try {
    await secondPageAsked;
    assert.ok(
      readdirSync(ownTmp).some((f) => f.startsWith("hogsend-export-")),
      "the first page is spooled to a temporary file",
    );
    child.kill("SIGINT");
    const { code } = await exited;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted/);
    assert.deepEqual(readdirSync(ownTmp), [], "no temporary export and no partial all.csv");
    assert.ok(!existsSync(out));
  } finally {
    child.kill("SIGKILL");
    server.closeAll?.();
    await Promise.race([server.close(), new Promise((r) => setTimeout(r, 100))]);
  }
});
