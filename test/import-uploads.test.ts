import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MIN_PART_BYTES, UPLOAD_TTL_MS } from "../src/services/imports/uploads";
import { adminAuth, adminPost, call, expectErrorShape, unique } from "./helpers";
import { contactsTagged, drainImport } from "./imports-helpers";
import { runCron } from "./queues";

const BASE = "/v1/admin/contacts/import/uploads";
type Upload = { uploadId: string; status: string; minPartBytes: number; maxPartBytes: number; expiresAt: string };
type Part = { partNumber: number; etag: string; size: number };

async function createUpload(format = "ndjson", fileName?: string) {
  const res = await adminPost(BASE, { format, fileName });
  expect(res.status).toBe(201);
  return (await res.json()) as Upload;
}

const putPart = (uploadId: string, partNumber: number | string, body: BodyInit, headers: Record<string, string> = {}) =>
  call(`${BASE}/${uploadId}/parts/${partNumber}`, { method: "PUT", headers: { ...adminAuth(), ...headers }, body });

async function sendPart(uploadId: string, partNumber: number, body: Uint8Array) {
  const res = await putPart(uploadId, partNumber, body);
  expect(res.status).toBe(200);
  return (await res.json()) as Part;
}

const complete = (uploadId: string, parts: Array<{ partNumber: number; etag: string }>) =>
  adminPost(`${BASE}/${uploadId}/complete`, { parts });

/** NDJSON lines padded with trailing spaces (valid JSON whitespace) to exactly `bytes`: a real 5 MiB part with few rows. */
function paddedNdjson(ids: string[], bytes: number): Uint8Array {
  const lines = ids.map((id) => JSON.stringify({ externalId: id, properties: { part: 1 } }));
  const per = Math.floor(bytes / ids.length);
  const text = lines.map((line, i) => {
    const width = i === lines.length - 1 ? bytes - per * (lines.length - 1) : per;
    return `${line}${" ".repeat(width - line.length - 1)}\n`;
  });
  const out = new TextEncoder().encode(text.join(""));
  expect(out.byteLength).toBe(bytes);
  return out;
}

const uploadRow = (id: string) =>
  env.DB.prepare("SELECT status FROM import_uploads WHERE id = ?").bind(id).first<{ status: string }>();
const countJobs = async () => (await env.DB.prepare("SELECT count(*) AS n FROM import_jobs").first<{ n: number }>())!.n;

describe("multipart import uploads", () => {
  it("a file sent in two parts becomes one import job that imports every row", async () => {
    const t = unique("mp");
    const upload = await createUpload("ndjson", "big-export.ndjson");
    expect(upload).toMatchObject({ status: "open", minPartBytes: MIN_PART_BYTES, maxPartBytes: 100 * 1024 * 1024 });
    expect(Date.parse(upload.expiresAt)).toBeGreaterThan(Date.now() + UPLOAD_TTL_MS - 60_000);

    const first = paddedNdjson(
      Array.from({ length: 12 }, (_, i) => `${t}_a${String(i).padStart(2, "0")}`),
      MIN_PART_BYTES,
    );
    const second = new TextEncoder().encode(
      `{"externalId":"${t}_b1","email":"b1@example.com","properties":{"part":2}}\n{"externalId":"${t}_b2"}\n{"oops":1}\n`,
    );
    // Parts may arrive in any order.
    const p2 = await sendPart(upload.uploadId, 2, second);
    const p1 = await sendPart(upload.uploadId, 1, first);
    expect(p1).toMatchObject({ partNumber: 1, size: MIN_PART_BYTES });

    const res = await complete(upload.uploadId, [p2, p1]);
    expect(res.status).toBe(202);
    const started = (await res.json()) as { jobId: string; status: string; bytesTotal: number };
    expect(started).toEqual({
      jobId: upload.uploadId,
      status: "pending",
      bytesTotal: first.byteLength + second.byteLength,
    });
    expect((await uploadRow(upload.uploadId))!.status).toBe("completed");

    const done = await drainImport(started.jobId);
    expect(done).toMatchObject({
      status: "completed",
      fileName: "big-export.ndjson",
      format: "ndjson",
      totalRows: 15,
      processedRows: 14,
      failedRows: 1,
      errors: [{ row: 15, error: "Missing externalId" }],
      bytesTotal: first.byteLength + second.byteLength,
    });
    const imported = await contactsTagged(t);
    expect(imported).toHaveLength(14);
    expect(imported.find((c) => c.externalId === `${t}_b1`)).toEqual({
      externalId: `${t}_b1`,
      email: "b1@example.com",
      properties: { part: 2 },
    });
  });

  it("a single-part CSV upload imports like a raw one", async () => {
    const t = unique("mpcsv");
    const upload = await createUpload("csv");
    const part = await sendPart(
      upload.uploadId,
      1,
      new TextEncoder().encode(`externalId,plan\n${t}_1,pro\n${t}_2,free\n`),
    );
    const res = await complete(upload.uploadId, [part]);
    expect(res.status).toBe(202);
    expect(await drainImport(upload.uploadId)).toMatchObject({ status: "completed", totalRows: 2, processedRows: 2 });
    expect((await contactsTagged(t)).map((c) => c.properties)).toEqual([{ plan: "pro" }, { plan: "free" }]);
  });

  it("completing twice answers 409 and creates one job", async () => {
    const upload = await createUpload("csv");
    const part = await sendPart(upload.uploadId, 1, new TextEncoder().encode(`externalId\n${unique("twice")}\n`));
    expect((await complete(upload.uploadId, [part])).status).toBe(202);
    const before = await countJobs();
    await expectErrorShape(await complete(upload.uploadId, [part]), 409, "CONFLICT");
    await expectErrorShape(await putPart(upload.uploadId, 2, "more"), 409, "CONFLICT");
    await expectErrorShape(await call(`${BASE}/${upload.uploadId}`, { method: "DELETE", headers: adminAuth() }), 409);
    expect(await countJobs()).toBe(before);
  });

  it("refuses a small part before the last, leaves the upload open, and completes once fixed", async () => {
    const t = unique("small");
    const upload = await createUpload("ndjson");
    const small = await sendPart(upload.uploadId, 1, new TextEncoder().encode(`{"externalId":"${t}_0"}\n`));
    const last = await sendPart(upload.uploadId, 2, new TextEncoder().encode(`{"externalId":"${t}_z"}\n`));
    const before = await countJobs();
    const refused = await expectErrorShape(await complete(upload.uploadId, [small, last]), 400, "BAD_REQUEST");
    expect(refused.error).toContain("at least 5 MiB");
    expect(await countJobs()).toBe(before);
    expect((await uploadRow(upload.uploadId))!.status).toBe("open");

    const wrongEtag = await complete(upload.uploadId, [{ partNumber: 1, etag: "not-the-etag" }]);
    await expectErrorShape(wrongEtag, 400, "BAD_REQUEST");

    const big = await sendPart(
      upload.uploadId,
      1,
      paddedNdjson([`${t}_0`, `${t}_1`, `${t}_2`, `${t}_3`, `${t}_4`, `${t}_5`], MIN_PART_BYTES),
    );
    expect((await complete(upload.uploadId, [big, last])).status).toBe(202);
    expect(await drainImport(upload.uploadId)).toMatchObject({ status: "completed", processedRows: 7 });
  });

  it("abort discards the upload: no job, no object, later parts refused", async () => {
    const upload = await createUpload("csv");
    const part = await sendPart(upload.uploadId, 1, new TextEncoder().encode("externalId\nx\n"));
    const res = await call(`${BASE}/${upload.uploadId}`, { method: "DELETE", headers: adminAuth() });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ uploadId: upload.uploadId, status: "aborted" });
    await expectErrorShape(await complete(upload.uploadId, [part]), 409, "CONFLICT");
    await expectErrorShape(await putPart(upload.uploadId, 1, "x"), 409, "CONFLICT");
    expect(await env.IMPORT_UPLOADS.head(`imports/${upload.uploadId}/upload`)).toBeNull();
    expect((await adminGetStatus(upload.uploadId)).status).toBe(404);
  });

  it("the cron aborts uploads left incomplete past their time to live (or stuck completing), and only those", async () => {
    const stale = await createUpload("csv");
    const fresh = await createUpload("csv");
    // An upload created long ago whose completion is under way right now is left alone.
    const completing = await createUpload("csv");
    await env.DB.prepare("UPDATE import_uploads SET created_at = ?, status = 'completing' WHERE id = ?")
      .bind(Date.now() - UPLOAD_TTL_MS - 60_000, completing.uploadId)
      .run();
    const part = await sendPart(stale.uploadId, 1, new TextEncoder().encode("externalId\nx\n"));
    await env.DB.prepare("UPDATE import_uploads SET created_at = ? WHERE id = ?")
      .bind(Date.now() - UPLOAD_TTL_MS - 60_000, stale.uploadId)
      .run();
    // One whose completion died half-way an hour ago: expired, and an assembled object deleted.
    const died = await createUpload("csv");
    await env.IMPORT_UPLOADS.put(`imports/${died.uploadId}/upload`, "externalId\nx\n");
    await env.DB.prepare("UPDATE import_uploads SET status = 'completing', updated_at = ? WHERE id = ?")
      .bind(Date.now() - 2 * 3600_000, died.uploadId)
      .run();
    await runCron();
    expect((await uploadRow(stale.uploadId))!.status).toBe("expired");
    expect((await uploadRow(fresh.uploadId))!.status).toBe("open");
    expect((await uploadRow(completing.uploadId))!.status).toBe("completing");
    expect((await uploadRow(died.uploadId))!.status).toBe("expired");
    expect(await env.IMPORT_UPLOADS.head(`imports/${died.uploadId}/upload`)).toBeNull();
    const refused = await expectErrorShape(await complete(stale.uploadId, [part]), 409, "CONFLICT");
    expect(refused.error).toBe("Upload is expired");
    // R2 no longer knows the multipart upload.
    const r2 = env.IMPORT_UPLOADS.resumeMultipartUpload(`imports/${stale.uploadId}/upload`, "x");
    await expect(r2.complete([part])).rejects.toThrow();
  });

  it("answers bad requests with the one error shape", async () => {
    const upload = await createUpload("csv");
    await expectErrorShape(await adminPost(BASE, { format: "xlsx" }), 400, "VALIDATION_ERROR");
    await expectErrorShape(
      await call(BASE, { method: "POST", headers: { ...adminAuth(), "content-type": "application/json" }, body: "{" }),
      400,
    );
    await expectErrorShape(await putPart(unique("nope"), 1, "x"), 404, "NOT_FOUND");
    for (const n of ["0", "10001", "abc", "1.5"]) await expectErrorShape(await putPart(upload.uploadId, n, "x"), 400);
    await expectErrorShape(await putPart(upload.uploadId, 1, new Uint8Array(0)), 400, "VALIDATION_ERROR");
    await expectErrorShape(
      await putPart(upload.uploadId, 1, "x", { "content-length": String(100 * 1024 * 1024 + 1) }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    await expectErrorShape(await complete(unique("nope"), [{ partNumber: 1, etag: "e" }]), 404, "NOT_FOUND");
    await expectErrorShape(await complete(upload.uploadId, []), 400, "VALIDATION_ERROR");
    await expectErrorShape(
      await complete(upload.uploadId, [
        { partNumber: 1, etag: "a" },
        { partNumber: 1, etag: "b" },
      ]),
      400,
      "VALIDATION_ERROR",
    );
    await expectErrorShape(await call(`${BASE}/${unique("nope")}`, { method: "DELETE", headers: adminAuth() }), 404);
    expect((await uploadRow(upload.uploadId))!.status).toBe("open");
  });

  it("takes a part bigger than the 5 MB admin body limit", async () => {
    const upload = await createUpload("ndjson");
    const part = await sendPart(
      upload.uploadId,
      1,
      paddedNdjson(
        Array.from({ length: 8 }, () => unique("sixmb")),
        6 * 1024 * 1024,
      ),
    );
    expect(part.size).toBe(6 * 1024 * 1024);
  });
});

const adminGetStatus = (jobId: string) => call(`/v1/admin/contacts/import/${jobId}`, { headers: adminAuth() });
