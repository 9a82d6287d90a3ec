import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { createClient } from "../bin/lib/api.mjs";
import { planParts, uploadFile } from "../bin/lib/upload.mjs";
import { fakeServer } from "./fake-server.mjs";

const MiB = 1024 * 1024;

test("planParts: one request up to a part, equal parts and a smaller last one above", () => {
  assert.deepEqual(planParts(64 * MiB, 64 * MiB), {
    multipart: false,
    parts: [{ partNumber: 1, start: 0, end: 64 * MiB }],
  });
  const big = planParts(120 * 1000 * 1000, 64 * MiB);
  assert.equal(big.multipart, true);
  assert.deepEqual(
    big.parts.map((p) => p.end - p.start),
    [64 * MiB, 120 * 1000 * 1000 - 64 * MiB],
  );
  const exact = planParts(3 * 5 * MiB, 5 * MiB);
  assert.deepEqual(
    exact.parts.map((p) => [p.partNumber, p.end - p.start]),
    [
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 5 * MiB],
    ],
  );
  assert.throws(() => planParts(10_001 * 5 * MiB, 5 * MiB), /at most 10000/);
});

async function tempFile(content) {
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-cli-test-"));
  const file = path.join(dir, "contacts.csv");
  await writeFile(file, content);
  return file;
}

/** A fake multipart API that keeps the parts and re-assembles them on completion. */
function multipartApi({ failPart } = {}) {
  const parts = new Map();
  const state = { assembled: null, aborted: false, failures: 0 };
  const handler = async (req) => {
    if (req.method === "POST" && req.path === "/v1/admin/contacts/import/uploads") {
      return { status: 201, json: { uploadId: "up1", status: "open" } };
    }
    const part = req.path.match(/^\/v1\/admin\/contacts\/import\/uploads\/up1\/parts\/(\d+)$/);
    if (req.method === "PUT" && part) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // long enough for parts to overlap
      const n = Number(part[1]);
      assert.equal(Number(req.headers["content-length"]), req.body.length);
      const verdict = failPart?.(n, state);
      if (verdict) return verdict;
      parts.set(n, req.body);
      return { json: { partNumber: n, etag: `etag-${n}-${req.body.length}`, size: req.body.length } };
    }
    if (req.method === "POST" && req.path === "/v1/admin/contacts/import/uploads/up1/complete") {
      const listed = JSON.parse(req.body.toString()).parts;
      state.listed = listed;
      state.assembled = Buffer.concat(listed.map((p) => parts.get(p.partNumber)));
      return { status: 202, json: { jobId: "up1", status: "pending", bytesTotal: state.assembled.length } };
    }
    if (req.method === "DELETE" && req.path === "/v1/admin/contacts/import/uploads/up1") {
      state.aborted = true;
      return { json: { uploadId: "up1", status: "aborted" } };
    }
  };
  return { handler, state };
}

test("uploadFile: a file over one part goes as parts (3 at a time) that re-assemble to the file, a 503 part is re-sent", async () => {
  const content = `externalId,plan\n${Array.from({ length: 40 }, (_, i) => `u${i},pro`).join("\n")}\n`;
  const file = await tempFile(content);
  const api = multipartApi({
    failPart: (n, state) => {
      if (n !== 2 || state.failures > 0) return null;
      state.failures += 1;
      return { status: 503, text: "busy" };
    },
  });
  const server = await fakeServer(api.handler);
  try {
    const progress = [];
    const client = createClient({ url: server.url, adminKey: "k" });
    const size = Buffer.byteLength(content);
    const job = await uploadFile(client, {
      file,
      size,
      format: "csv",
      fileName: "contacts.csv",
      partBytes: 100,
      onProgress: (sent) => progress.push(sent),
    });
    assert.deepEqual(job, { jobId: "up1", status: "pending", bytesTotal: size });
    assert.equal(api.state.assembled.toString(), content);
    assert.deepEqual(
      api.state.listed.map((p) => p.partNumber),
      Array.from({ length: Math.ceil(size / 100) }, (_, i) => i + 1),
    );
    assert.equal(api.state.failures, 1);
    assert.ok(server.load.maxInFlight > 1 && server.load.maxInFlight <= 3, `in flight: ${server.load.maxInFlight}`);
    assert.equal(progress.at(-1), size);
    assert.ok(server.requests.every((r) => r.headers.authorization === "Bearer k"));
  } finally {
    await server.close();
  }
});

test("uploadFile: a part the server refuses aborts the upload and reports the server's message", async () => {
  const file = await tempFile("x".repeat(250));
  const api = multipartApi({
    failPart: (n) =>
      n === 2 ? { status: 409, json: { error: "Upload is expired", code: "CONFLICT", requestId: "r1" } } : null,
  });
  const server = await fakeServer(api.handler);
  try {
    const client = createClient({ url: server.url, adminKey: "k" });
    await assert.rejects(
      uploadFile(client, { file, size: 250, format: "csv", fileName: "f.csv", partBytes: 100 }),
      (err) => err.message === "Upload is expired" && err.status === 409 && err.requestId === "r1",
    );
    assert.equal(api.state.aborted, true);
    assert.equal(server.requests.filter((r) => r.path.includes("/parts/2")).length, 1, "a 409 is not retried");
  } finally {
    await server.close();
  }
});

test("uploadFile: a file within one part is one raw request with the format and file name", async () => {
  const content = "externalId\nu1\n";
  const file = await tempFile(content);
  const server = await fakeServer((req) =>
    req.method === "POST" && req.path === "/v1/admin/contacts/import"
      ? { status: 202, json: { jobId: "j1", status: "pending" } }
      : null,
  );
  try {
    const client = createClient({ url: server.url, adminKey: "k" });
    const job = await uploadFile(client, { file, size: content.length, format: "csv", fileName: "contacts.csv" });
    assert.equal(job.jobId, "j1");
    const [req] = server.requests;
    assert.equal(req.query.get("format"), "csv");
    assert.equal(req.query.get("fileName"), "contacts.csv");
    assert.equal(req.headers["content-type"], "text/csv");
    assert.equal(req.body.toString(), content);
    assert.equal(await readFile(file, "utf8"), content);
  } finally {
    await server.close();
  }
});

test("uploadFile: an interrupted multipart upload is aborted on the server", async () => {
  const file = await tempFile("x".repeat(250));
  const api = multipartApi();
  const server = await fakeServer(api.handler);
  try {
    const client = createClient({ url: server.url, adminKey: "k" });
    const interrupt = new AbortController();
    // Interrupted before the server even answered the create: the upload it made is still discarded.
    interrupt.abort();
    await assert.rejects(
      uploadFile(client, {
        file,
        size: 250,
        format: "csv",
        fileName: "f.csv",
        partBytes: 100,
        signal: interrupt.signal,
      }),
      (err) => err.code === "ABORTED",
    );
    assert.equal(api.state.aborted, true);
    assert.equal(api.state.assembled, null, "never completed");
  } finally {
    await server.close();
  }
});
