import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { createClient } from "../bin/lib/api.mjs";
import { collectMapping, collectType, importOptions } from "../bin/lib/import-options.mjs";
import { uploadFile } from "../bin/lib/upload.mjs";
import { fakeServer } from "./fake-server.mjs";

const MiB = 1024 * 1024;

test("--map and --type build the API's mapping and types; COLUMN= drops a column", () => {
  let mapping = collectMapping("Email Address=email,externalId");
  mapping = collectMapping("LEID=", mapping);
  mapping = collectMapping("a=b=c", mapping);
  assert.deepEqual(mapping, { "Email Address": ["email", "externalId"], LEID: null, "a=b": "c" });
  assert.deepEqual(collectType("seats=number", collectType("vip=boolean")), { vip: "boolean", seats: "number" });
  assert.throws(() => collectType("seats=float"), /TYPE one of/);
  assert.throws(() => collectMapping("no-equals"), /COLUMN=FIELD/);
  assert.deepEqual(importOptions({ preset: "mailchimp", dryRun: true }), { preset: "mailchimp", dryRun: true });
  assert.deepEqual(importOptions({}), {});
});

async function tempFile(bytes) {
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-cli-options-"));
  const file = path.join(dir, "audience.csv");
  await writeFile(file, bytes);
  return file;
}

test("a one-request import sends the options as query parameters, the maps as JSON", async () => {
  const server = await fakeServer(() => ({ status: 202, json: { jobId: "j1", status: "pending" } }));
  try {
    const file = await tempFile("Email Address,seats\nada@example.com,3\n");
    const options = { preset: "mailchimp", mapping: { seats: "seats" }, types: { seats: "number" }, dryRun: true };
    await uploadFile(createClient({ url: server.url, adminKey: "k" }), {
      file,
      size: 38,
      format: "csv",
      fileName: "audience.csv",
      options,
    });
    const [req] = server.requests;
    assert.equal(req.query.get("preset"), "mailchimp");
    assert.equal(req.query.get("dryRun"), "true");
    assert.deepEqual(JSON.parse(req.query.get("mapping")), { seats: "seats" });
    assert.deepEqual(JSON.parse(req.query.get("types")), { seats: "number" });
  } finally {
    await server.close();
  }
});

test("a multipart import sends the options in the upload's create body", async () => {
  const server = await fakeServer((req) => {
    if (req.path === "/v1/admin/contacts/import/uploads") return { status: 201, json: { uploadId: "up1" } };
    if (req.method === "PUT") return { json: { partNumber: 1, etag: "e" } };
    if (req.path.endsWith("/complete")) return { status: 202, json: { jobId: "up1", status: "pending" } };
    return undefined;
  });
  try {
    const size = 6 * MiB;
    const file = await tempFile(Buffer.alloc(size, 97));
    await uploadFile(createClient({ url: server.url, adminKey: "k" }), {
      file,
      size,
      format: "csv",
      fileName: "audience.csv",
      options: { preset: "hubspot", dryRun: true },
      partBytes: 5 * MiB,
    });
    const create = JSON.parse(server.requests[0].body.toString());
    assert.deepEqual(create, { format: "csv", fileName: "audience.csv", preset: "hubspot", dryRun: true });
  } finally {
    await server.close();
  }
});
