import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createClient } from "../bin/lib/api.mjs";
import { importCommand } from "../bin/lib/import.mjs";
import { writeSuppressionExport } from "../bin/lib/suppressions.mjs";
import { fakeServer } from "./fake-server.mjs";

const collect = () => {
  const out = new PassThrough();
  const chunks = [];
  out.on("data", (c) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString() };
};

test("suppressions import: uploads to the suppression import with its options, follows that job, prints its counts", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-supp-"));
  const file = path.join(dir, "bounces.csv");
  await writeFile(file, "EmailAddress,SuppressionReason\nada@example.com,HardBounce\nnope,HardBounce\n");
  let polls = 0;
  const job = (done) => ({
    id: "s1",
    status: done ? "completed" : "processing",
    totalRows: done ? 2 : null,
    processedRows: done ? 1 : 0,
    failedRows: done ? 1 : 0,
    suppressed: done ? 1 : 0,
    alreadySuppressed: 0,
    invalid: done ? 1 : 0,
    bytesProcessed: done ? 60 : 0,
    bytesTotal: 60,
    dryRun: true,
    errors: done ? [{ row: 2, error: "Invalid email format" }] : [],
    error: null,
    startedAt: null,
    finishedAt: null,
  });
  const server = await fakeServer((req) => {
    if (req.method === "POST" && req.path === "/v1/admin/suppressions/import")
      return { status: 202, json: { jobId: "s1", status: "pending" } };
    if (req.path === "/v1/admin/suppressions/import/s1") return { json: job(++polls > 1) };
    if (req.path === "/v1/admin/suppressions/import/s1/errors.csv")
      return { text: "EmailAddress,SuppressionReason,row,error\nnope,HardBounce,2,Invalid email format\n" };
    return null;
  });
  try {
    const { out, text } = collect();
    const code = await importCommand(createClient({ url: server.url, adminKey: "k" }), {
      file,
      tty: false,
      out,
      pollMs: 5,
      suppressions: { preset: "postmark", dryRun: true },
    });
    assert.equal(code, 1);
    const start = server.requests.find((r) => r.path === "/v1/admin/suppressions/import");
    assert.equal(start.query.get("preset"), "postmark");
    assert.equal(start.query.get("dryRun"), "true");
    assert.equal(start.headers["content-type"], "text/csv");
    assert.match(text(), /rows: 2 in the file, 1 suppressed, 0 already suppressed, 1 invalid/);
    assert.match(text(), /row 2: Invalid email format/);
    assert.match(await readFile(`${file}.errors.csv`, "utf8"), /nope,HardBounce,2,Invalid email format/);
  } finally {
    await server.close();
  }
});

test("suppressions export follows X-Next-Cursor and writes the CSV header once", async () => {
  const pages = [
    "address,reason,source,createdAt\na@example.com,complaint,postmark,2025-01-15T09:30:00.000Z\n",
    "address,reason,source,createdAt\nhmac:00ff,erased,,2025-01-15T09:30:00.000Z\n",
  ];
  const server = await fakeServer((req) => {
    if (req.path !== "/v1/admin/suppressions/export") return null;
    const page = req.query.get("cursor") ? 1 : 0;
    return { headers: page === 0 ? { "x-next-cursor": "a@example.com" } : {}, text: pages[page] };
  });
  try {
    const { out, text } = collect();
    const seen = [];
    const rows = await writeSuppressionExport(createClient({ url: server.url, adminKey: "k" }), {
      format: "csv",
      out,
      reason: "complaint",
      onPage: (n) => seen.push(n),
    });
    assert.equal(rows, 2);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(
      text(),
      "address,reason,source,createdAt\na@example.com,complaint,postmark,2025-01-15T09:30:00.000Z\nhmac:00ff,erased,,2025-01-15T09:30:00.000Z\n",
    );
    assert.deepEqual(
      server.requests.map((r) => [r.query.get("cursor"), r.query.get("reason")]),
      [
        [null, "complaint"],
        ["a@example.com", "complaint"],
      ],
    );
  } finally {
    await server.close();
  }
});
