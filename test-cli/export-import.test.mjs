import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { promisify } from "node:util";
import { parse } from "csv-parse/sync";
import { createClient } from "../bin/lib/api.mjs";
import { writeExport } from "../bin/lib/export.mjs";
import { importCommand } from "../bin/lib/import.mjs";
import { fakeServer } from "./fake-server.mjs";

const BIN = path.join(import.meta.dirname, "..", "bin", "hogsend.mjs");

const contact = (n, properties) => ({ id: `c${n}`, externalId: `u${n}`, email: `u${n}@example.com`, properties });

/** Three export pages whose contacts have different property keys, chained by cursors. */
const PAGES = [
  [contact(1, { plan: "pro" }), contact(2, { seats: 5 })],
  [contact(3, { vip: true, formula: "=SUM(A1)" }), { ...contact(4, {}), email: null }],
  [contact(5, { plan: "free", nested: { a: 1 } })],
];

function exportApi() {
  return (req) => {
    if (req.path !== "/v1/admin/contacts/export") return null;
    assert.equal(req.query.get("format"), "ndjson");
    const page = req.query.get("cursor") ? Number(req.query.get("cursor")) : 0;
    const headers = page + 1 < PAGES.length ? { "x-next-cursor": String(page + 1) } : {};
    return { headers, text: PAGES[page].map((c) => `${JSON.stringify(c)}\n`).join("") };
  };
}

async function exportTo(format) {
  const server = await fakeServer(exportApi());
  try {
    const out = new PassThrough();
    const chunks = [];
    out.on("data", (c) => chunks.push(c));
    const pages = [];
    const rows = await writeExport(createClient({ url: server.url, adminKey: "k" }), {
      format,
      out,
      onPage: (n) => pages.push(n),
    });
    return { rows, pages, text: Buffer.concat(chunks).toString(), requests: server.requests };
  } finally {
    await server.close();
  }
}

test("export follows every cursor and writes one CSV with every page's property keys", async () => {
  const { rows, pages, text, requests } = await exportTo("csv");
  assert.equal(rows, 5);
  assert.deepEqual(pages, [2, 4, 5]);
  assert.deepEqual(
    requests.map((r) => r.query.get("cursor")),
    [null, "1", "2"],
  );
  const records = parse(text);
  assert.deepEqual(records[0], ["externalId", "email", "formula", "nested", "plan", "seats", "vip"]);
  assert.deepEqual(records.slice(1), [
    ["u1", "u1@example.com", "", "", "pro", "", ""],
    ["u2", "u2@example.com", "", "", "", "5", ""],
    ["u3", "u3@example.com", "'=SUM(A1)", "", "", "", "true"],
    ["u4", "", "", "", "", "", ""],
    ["u5", "u5@example.com", "", '{"a":1}', "free", "", ""],
  ]);
});

test("export as JSON is one array of every contact; NDJSON one per line", async () => {
  const json = await exportTo("json");
  assert.deepEqual(JSON.parse(json.text), PAGES.flat());
  const ndjson = await exportTo("ndjson");
  assert.deepEqual(
    ndjson.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
    PAGES.flat(),
  );
});

/** A job API that answers `final` after one poll in progress, and serves errors.csv. */
function jobApi(final) {
  let polls = 0;
  return (req) => {
    if (req.method === "POST" && req.path === "/v1/admin/contacts/import") {
      return { status: 202, json: { jobId: "j1", status: "pending" } };
    }
    if (req.path === "/v1/admin/contacts/import/j1") {
      polls += 1;
      const running = {
        id: "j1",
        status: "processing",
        processedRows: 1,
        failedRows: 0,
        bytesProcessed: 10,
        bytesTotal: 20,
      };
      return { json: polls < 2 ? running : { id: "j1", bytesProcessed: 20, bytesTotal: 20, errors: [], ...final } };
    }
    if (req.path === "/v1/admin/contacts/import/j1/errors.csv")
      return { text: "externalId,row,error\n,2,Missing externalId\n" };
  };
}

async function runImport(final, options = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-cli-test-"));
  const file = path.join(dir, "people.csv");
  await writeFile(file, "externalId\nu1\n\n");
  const server = await fakeServer(jobApi(final));
  const out = new PassThrough();
  const lines = [];
  out.on("data", (c) => lines.push(c.toString()));
  try {
    const client = createClient({ url: server.url, adminKey: "k" });
    const code = await importCommand(client, { file, tty: false, out, pollMs: 5, ...options });
    const errorsCsv = await readFile(`${file}.errors.csv`, "utf8").catch(() => null);
    return { code, output: lines.join(""), errorsCsv };
  } finally {
    await server.close();
  }
}

test("import exits 0 on a clean job, 1 with failed rows (and writes FILE.errors.csv) unless allowed, 1 on a failed job", async () => {
  const clean = await runImport({ status: "completed", totalRows: 2, processedRows: 2, failedRows: 0 });
  assert.equal(clean.code, 0);
  assert.match(clean.output, /Job j1: completed\n {2}rows: 2 in the file, 2 imported, 0 failed/);
  assert.equal(clean.errorsCsv, null);

  const withFailures = {
    status: "completed",
    totalRows: 2,
    processedRows: 1,
    failedRows: 1,
    errors: [{ row: 2, error: "Missing externalId" }],
  };
  const failedRows = await runImport(withFailures);
  assert.equal(failedRows.code, 1);
  assert.equal(failedRows.errorsCsv, "externalId,row,error\n,2,Missing externalId\n");
  assert.match(failedRows.output, /row 2: Missing externalId/);
  assert.equal((await runImport(withFailures, { allowFailedRows: true })).code, 0);

  const failed = await runImport({
    status: "failed",
    totalRows: null,
    processedRows: 0,
    failedRows: 0,
    error: "CSV header has no externalId column",
  });
  assert.equal(failed.code, 1);
  assert.match(failed.output, /error: CSV header has no externalId column/);
  assert.equal(
    (await runImport({ status: "cancelled", processedRows: 1, failedRows: 0 }, { allowFailedRows: true })).code,
    1,
  );
});

test("import refuses a file whose format it can't tell, before any request", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-cli-test-"));
  const file = path.join(dir, "people.txt");
  await writeFile(file, "externalId\nu1\n");
  const client = createClient({ url: "http://127.0.0.1:9", adminKey: "k" });
  await assert.rejects(importCommand(client, { file, tty: false }), /--format csv\|json\|ndjson/);
});

const run = promisify(execFile);

test("the hogsend binary: help shows every command with an example; API errors exit 1 with the server's message", async () => {
  const { stdout } = await run(process.execPath, [BIN, "--help"]);
  for (const command of ["import", "export", "jobs", "cancel", "keys", "audit"]) {
    assert.match(stdout, new RegExp(`^  ${command} `, "m"));
    assert.match(stdout, new RegExp(`^  hogsend ${command}`, "m"));
  }
  const noKey = await run(process.execPath, [BIN, "jobs"], { env: { ...process.env, HOGSEND_ADMIN_KEY: "" } }).catch(
    (e) => e,
  );
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /HOGSEND_ADMIN_KEY is not set/);

  const server = await fakeServer(() => ({
    status: 404,
    json: { error: "Import job not found", code: "NOT_FOUND", requestId: "r9" },
  }));
  try {
    const env = { ...process.env, HOGSEND_URL: server.url, HOGSEND_ADMIN_KEY: "k" };
    const missing = await run(process.execPath, [BIN, "cancel", "nope"], { env }).catch((e) => e);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "hogsend: Import job not found (HTTP 404 NOT_FOUND, request r9)\n");
    assert.equal(server.requests[0].path, "/v1/admin/contacts/import/nope/cancel");
  } finally {
    await server.close();
  }
});
