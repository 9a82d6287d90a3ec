import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { processImportChunk } from "../src/services/imports/chunk";
import { createImportJob } from "../src/services/imports/jobs";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import {
  contactsTagged,
  drainImport,
  getJob,
  jobRow,
  seedJob,
  startImport,
  testDeps,
  uploadRaw,
} from "./imports-helpers";

const countJobs = async () => (await env.DB.prepare("SELECT count(*) AS n FROM import_jobs").first<{ n: number }>())!.n;
const countUploads = async () => (await env.IMPORT_UPLOADS.list({ prefix: "imports/" })).objects.length;

describe("POST /v1/admin/contacts/import", () => {
  it("imports the documented CSV sample and reports the documented status shape", async () => {
    const t = unique("doc");
    const res = await adminPost("/v1/admin/contacts/import", {
      format: "csv",
      data: `externalId,email,plan\n${t}_001,user1@example.com,pro\n${t}_002,user2@example.com,free`,
      fileName: "jan-2025-migration.csv",
    });
    expect(res.status).toBe(202);
    const started = (await res.json()) as { jobId: string; status: string };
    expect(Object.keys(started).sort()).toEqual(["jobId", "status"]);
    expect(started.status).toBe("pending");
    expect(started.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await getJob(started.jobId)).status).toBe("pending");

    const done = await drainImport(started.jobId);
    expect(done).toMatchObject({
      id: started.jobId,
      status: "completed",
      fileName: "jan-2025-migration.csv",
      format: "csv",
      totalRows: 2,
      processedRows: 2,
      failedRows: 0,
      errors: [],
      errorCount: 0,
      error: null,
    });
    expect(done.startedAt).not.toBeNull();
    expect(done.finishedAt).not.toBeNull();
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_001`, email: "user1@example.com", properties: { plan: "pro" } },
      { externalId: `${t}_002`, email: "user2@example.com", properties: { plan: "free" } },
    ]);
  });

  it("completes through the real queue when nobody drives it", async () => {
    const t = unique("queue");
    const jobId = await startImport({ format: "csv", data: `externalId,plan\n${t}_a,pro\n` });
    let job = await getJob(jobId);
    for (let i = 0; i < 50 && job.status !== "completed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await getJob(jobId);
    }
    expect(job).toMatchObject({ status: "completed", processedRows: 1, totalRows: 1 });
  });

  it("imports the documented JSON form (an array as a string)", async () => {
    const t = unique("json");
    const data = JSON.stringify([
      { externalId: `${t}_001`, email: "user1@example.com", properties: { plan: "pro", seats: 3 } },
      { externalId: `${t}_002` },
    ]);
    const jobId = await startImport({ format: "json", data });
    expect(await drainImport(jobId)).toMatchObject({
      status: "completed",
      totalRows: 2,
      processedRows: 2,
      format: "json",
      fileName: null,
    });
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_001`, email: "user1@example.com", properties: { plan: "pro", seats: 3 } },
      { externalId: `${t}_002`, email: null, properties: {} },
    ]);
  });

  it("takes a raw NDJSON body (format from the Content-Type) and a raw JSON file (?format=json)", async () => {
    const t = unique("raw");
    const ndjson = `{"externalId":"${t}_n1","properties":{"plan":"pro"}}\r\n\r\n{"externalId":"${t}_n2","email":"n2@example.com"}\n`;
    const res = await uploadRaw(ndjson, "application/x-ndjson", "?fileName=users.ndjson");
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(await drainImport(jobId)).toMatchObject({
      status: "completed",
      format: "ndjson",
      fileName: "users.ndjson",
      totalRows: 2,
      processedRows: 2,
    });

    const json = JSON.stringify([{ externalId: `${t}_j1`, properties: { plan: "team" } }]);
    const res2 = await uploadRaw(json, "application/json", "?format=json&fileName=users.json");
    expect(res2.status).toBe(202);
    const job2 = await drainImport(((await res2.json()) as { jobId: string }).jobId);
    expect(job2).toMatchObject({ status: "completed", format: "json", processedRows: 1 });
    expect((await contactsTagged(t)).map((c) => c.externalId)).toEqual([`${t}_j1`, `${t}_n1`, `${t}_n2`]);
  });

  it("skips every kind of invalid row with its reason and still imports the valid ones", async () => {
    const t = unique("rows");
    const csv = [
      "externalId,email,plan",
      `${t}_ok,ok@example.com,pro`,
      `,nobody@example.com,free`,
      `${"x".repeat(256)},long@example.com,free`,
      `${t}_bad,not-an-email,free`,
      `${t}_ok,second@example.com,enterprise`,
      `${t}_wide,w@example.com,free,extra`,
      `${t}_ok2,,team`,
    ].join("\n");
    const job = await drainImport(await startImport({ format: "csv", data: csv }));
    expect(job).toMatchObject({ status: "completed", totalRows: 7, processedRows: 2, failedRows: 5, errorCount: 5 });
    expect(job.errors).toEqual([
      { row: 2, error: "Missing externalId" },
      { row: 3, error: "externalId too long (max 255 characters)" },
      { row: 4, error: "Invalid email format" },
      { row: 5, error: "Duplicate externalId" },
      { row: 6, error: "Row has 4 columns; the header has 3" },
    ]);
    // The first occurrence wins.
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_ok`, email: "ok@example.com", properties: { plan: "pro" } },
      { externalId: `${t}_ok2`, email: null, properties: { plan: "team" } },
    ]);
  });

  it("merges into existing contacts: properties merge, email only when given, empty cells overwrite nothing", async () => {
    const userId = unique("merge");
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "e", userId, userEmail: "first@example.com", properties: { plan: "free", company: "Acme" } },
    });
    await drainImport(
      await startImport({ format: "csv", data: `externalId,email,plan,company,seats\n${userId},,pro,,5\n` }),
    );
    expect(await contactsTagged(userId)).toEqual([
      { externalId: userId, email: "first@example.com", properties: { plan: "pro", company: "Acme", seats: "5" } },
    ]);
    await drainImport(
      await startImport({
        format: "json",
        data: JSON.stringify([{ externalId: userId, email: "second@example.com" }]),
      }),
    );
    expect((await contactsTagged(userId))[0]).toMatchObject({
      email: "second@example.com",
      properties: { plan: "pro", company: "Acme" },
    });
  });

  it("parses real-world CSV: BOM, CRLF, quoted commas and newlines, escaped quotes, neutralised formulas", async () => {
    const t = unique("nasty");
    const csv =
      "\uFEFFexternalId,email,company,note\r\n" +
      `${t}_1,a@example.com,"Acme, Inc.","line one\r\nline two"\r\n` +
      `${t}_2,,"The ""Best"" Co",'=SUM(A1:A2)\r\n` +
      `"${t}_3",b@example.com,Zürich GmbH,"multi\nline, ""quoted"""\r\n`;
    const job = await drainImport(await startImport({ format: "csv", data: csv }), 1);
    expect(job).toMatchObject({ status: "completed", totalRows: 3, processedRows: 3, failedRows: 0 });
    expect(await contactsTagged(t)).toEqual([
      {
        externalId: `${t}_1`,
        email: "a@example.com",
        properties: { company: "Acme, Inc.", note: "line one\r\nline two" },
      },
      { externalId: `${t}_2`, email: null, properties: { company: 'The "Best" Co', note: "=SUM(A1:A2)" } },
      {
        externalId: `${t}_3`,
        email: "b@example.com",
        properties: { company: "Zürich GmbH", note: 'multi\nline, "quoted"' },
      },
    ]);
  });

  it("fails the job with a message when the file can't be imported", async () => {
    const noId = await drainImport(await startImport({ format: "csv", data: "id,email\n1,a@example.com\n" }));
    expect(noId).toMatchObject({ status: "failed", error: "CSV header has no externalId column", processedRows: 0 });
    expect(noId.finishedAt).not.toBeNull();

    const malformed = await drainImport(await startImport({ format: "json", data: '[{"externalId": "x"' }));
    expect(malformed.status).toBe("failed");
    expect(malformed.error).toMatch(/^Malformed JSON/);

    const notArray = await drainImport(await startImport({ format: "json", data: '{"externalId": "x"}' }));
    expect(notArray).toMatchObject({ status: "failed", error: "A JSON import must be an array of contact objects" });

    const unclosed = await drainImport(
      await startImport({ format: "csv", data: 'externalId,note\nu1,"never closed\n' }),
    );
    expect(unclosed.status).toBe("failed");
    expect(unclosed.error).toMatch(/^Unreadable CSV/);
  });

  it("a body shorter than its length leaves no job row and no upload (the row is written while the file streams)", async () => {
    const [jobsBefore, uploadsBefore] = [await countJobs(), await countUploads()];
    const body = new Blob(["externalId\nshort_1\n"]).stream();
    await expect(createImportJob(testDeps(), { format: "csv", body, byteLength: 1000 })).rejects.toThrow(
      /ended before Content-Length/,
    );
    expect([await countJobs(), await countUploads()]).toEqual([jobsBefore, uploadsBefore]);
  });

  it("rejects bad requests in the error shape, leaving no job row and no upload", async () => {
    const [jobsBefore, uploadsBefore] = [await countJobs(), await countUploads()];
    const post = (body: BodyInit, contentType: string, query = "") => uploadRaw(body, contentType, query);

    await expectErrorShape(await post("{not json", "application/json"), 400, "BAD_REQUEST");
    const wrongTypes = await expectErrorShape(
      await post(JSON.stringify({ format: "xml", data: 5 }), "application/json"),
      400,
      "VALIDATION_ERROR",
    );
    expect(wrongTypes.error).toContain("format");
    expect(wrongTypes.error).toContain("data");
    await expectErrorShape(
      await post(JSON.stringify({ format: "csv", data: "" }), "application/json"),
      400,
      "VALIDATION_ERROR",
    );
    const longName = await expectErrorShape(
      await post("externalId\nu1\n", "text/csv", `?fileName=${"n".repeat(300)}`),
      400,
      "VALIDATION_ERROR",
    );
    expect(longName.error).toContain("fileName");
    await expectErrorShape(await post("<html>", "text/html"), 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectErrorShape(await post("externalId\nu1\n", "text/plain"), 400, "VALIDATION_ERROR");
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("externalId\nu1\n"));
        controller.close();
      },
    });
    await expectErrorShape(await post(stream, "text/csv"), 411, "LENGTH_REQUIRED");
    const big = JSON.stringify({ format: "csv", data: `externalId\n${"u".repeat(10 * 1024 * 1024)}` });
    await expectErrorShape(await post(big, "application/json"), 413, "PAYLOAD_TOO_LARGE");

    expect(await countJobs()).toBe(jobsBefore);
    expect(await countUploads()).toBe(uploadsBefore);
  });

  it("stores the raw upload under a generated key, never the file name", async () => {
    const res = await uploadRaw("externalId\nu1\n", "text/csv", `?fileName=${encodeURIComponent("../../etc/passwd")}`);
    const { jobId } = (await res.json()) as { jobId: string };
    expect(await env.IMPORT_UPLOADS.head(`imports/${jobId}/upload`)).not.toBeNull();
    expect((await getJob(jobId)).fileName).toBe("../../etc/passwd");
  });
});

describe("import jobs", () => {
  it("404s unknown jobs on every job route", async () => {
    const id = crypto.randomUUID();
    await expectErrorShape(await adminGet(`/v1/admin/contacts/import/${id}`), 404, "NOT_FOUND");
    await expectErrorShape(await adminPost(`/v1/admin/contacts/import/${id}/cancel`), 404, "NOT_FOUND");
    await expectErrorShape(await adminGet(`/v1/admin/contacts/import/${id}/errors.csv`), 404, "NOT_FOUND");
  });

  it("lists jobs newest first, paged", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push(await startImport({ format: "csv", data: "externalId\nx\n", fileName: `list-${i}.csv` }));
    const page1 = (await (await adminGet("/v1/admin/contacts/imports?limit=2")).json()) as {
      imports: Array<{ id: string }>;
      nextCursor: string;
    };
    expect(page1.imports.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const page2 = (await (await adminGet(`/v1/admin/contacts/imports?limit=2&cursor=${page1.nextCursor}`)).json()) as {
      imports: Array<{ id: string }>;
    };
    expect(page2.imports[0]!.id).toBe(ids[0]);
  });

  it("cancels a job: nothing more is written, rows already written stay, a second cancel is 409", async () => {
    const t = unique("cancel");
    const rows = Array.from({ length: 6 }, (_, i) => `${t}_${i}`).join("\n");
    const jobId = await seedJob("csv", `externalId\n${rows}\n`);
    // Two rows in, then cancel.
    await processImportChunk(testDeps(), { jobId, offset: 0 }, { chunkRows: 2 });

    const res = await adminPost(`/v1/admin/contacts/import/${jobId}/cancel`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "cancelled", processedRows: 2, totalRows: null });

    const checkpoint = (await jobRow(jobId))!.checkpoint_offset;
    expect(await processImportChunk(testDeps(), { jobId, offset: checkpoint }, { chunkRows: 2 })).toBe("ended");
    expect((await contactsTagged(t)).map((c) => c.externalId)).toEqual([`${t}_0`, `${t}_1`]);
    expect(await getJob(jobId)).toMatchObject({ status: "cancelled", processedRows: 2 });

    await expectErrorShape(await adminPost(`/v1/admin/contacts/import/${jobId}/cancel`), 409, "CONFLICT");
    const finished = await startImport({ format: "csv", data: "externalId\nx\n" });
    await drainImport(finished);
    await expectErrorShape(await adminPost(`/v1/admin/contacts/import/${finished}/cancel`), 409, "CONFLICT");
  });

  it("serves the failed rows as CSV with their original columns, and the fixed file imports", async () => {
    const t = unique("errcsv");
    const csv = `externalId,email,plan\n${t}_1,ok@example.com,pro\n${t}_2,bad-email,"free, for now"\n,x@example.com,=cmd\n`;
    const jobId = await startImport({ format: "csv", data: csv });
    await drainImport(jobId);

    const res = await adminGet(`/v1/admin/contacts/import/${jobId}/errors.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toContain("attachment");
    expect(await res.text()).toBe(
      `externalId,email,plan,row,error\n${t}_2,bad-email,"free, for now",2,Invalid email format\n,x@example.com,'=cmd,3,Missing externalId\n`,
    );

    // Fix the address, drop row/error, import again.
    const fixed = `externalId,email,plan\n${t}_2,good@example.com,"free, for now"\n`;
    await drainImport(await startImport({ format: "csv", data: fixed }));
    expect((await contactsTagged(`${t}_2`))[0]).toEqual({
      externalId: `${t}_2`,
      email: "good@example.com",
      properties: { plan: "free, for now" },
    });
  });

  it("keeps the original object for failed JSON rows in errors.csv", async () => {
    const jobId = await startImport({
      format: "ndjson",
      data: '{"externalId":"ok_row"}\n{"email":"x@example.com"}\nnot json\n',
    });
    expect(await drainImport(jobId)).toMatchObject({
      failedRows: 2,
      errors: [
        { row: 2, error: "Missing externalId" },
        { row: 3, error: "Malformed JSON" },
      ],
    });
    const text = await (await call(`/v1/admin/contacts/import/${jobId}/errors.csv`, { headers: adminAuth() })).text();
    expect(text).toBe(
      'data,row,error\n"{""email"":""x@example.com""}",2,Missing externalId\nnot json,3,Malformed JSON\n',
    );
  });
});

describe("OpenAPI", () => {
  it("documents the import and export routes, and every $ref resolves", async () => {
    const doc = (await (await call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const path of [
      "/v1/admin/contacts/import",
      "/v1/admin/contacts/imports",
      "/v1/admin/contacts/import/{jobId}",
      "/v1/admin/contacts/import/{jobId}/cancel",
      "/v1/admin/contacts/import/{jobId}/errors.csv",
      "/v1/admin/contacts/export",
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.paths["/v1/admin/contacts/import"]!.post as object)).toContain("requestBody");
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).toContain("ImportEnvelope");
    for (const ref of new Set(refs)) expect(doc.components.schemas[ref], ref).toBeDefined();
  });
});
