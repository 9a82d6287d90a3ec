import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, unique } from "./helpers";
import { contactsTagged, drainImport, getJob, startImport, uploadRaw } from "./imports-helpers";

const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;
const countJobs = () => count("SELECT count(*) AS n FROM import_jobs");
const errorsCsv = async (jobId: string) => (await adminGet(`/v1/admin/contacts/import/${jobId}/errors.csv`)).text();
const jobIdOf = async (res: Response) => {
  if (res.status !== 202) throw new Error(`import answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { jobId: string }).jobId;
};

/** A file with every kind of row: new, existing, opted out, bad type, bad email, in-file duplicate. */
function mixedFile(t: string) {
  const d = t.replace("_", "-");
  return [
    "id,email,seats,unsubscribed,suppressed",
    `${t}_existing,new-${d}@example.com,2,,`,
    `${t}_new1,n1-${d}@example.com,3,true,`,
    `${t}_new2,n2-${d}@example.com,lots,,`,
    `${t}_new3,not-an-email,1,,`,
    `${t}_new4,n4-${d}@example.com,4,,2024-01-01`,
    `${t}_new1,dup-${d}@example.com,5,,`,
    `${t}_new5,,,,`,
  ].join("\n");
}
const mixedOptions = { mapping: { id: "externalId" }, types: { seats: "number" } };

describe("dry run", () => {
  it("reads the whole file, writes nothing, and reports what a real run would do", async () => {
    const t = unique("dry");
    const d = t.replace("_", "-");
    await env.DB.prepare(
      "INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at) VALUES (?, ?, 'old@example.com', '{\"seats\":1}', 0, 0)",
    )
      .bind(crypto.randomUUID(), `${t}_existing`)
      .run();
    const before = await contactsTagged(t);

    // Two rows per chunk: duplicates are still found across chunks without any contact written.
    const dryId = await startImport({ format: "csv", data: mixedFile(t), ...mixedOptions, dryRun: true });
    const dry = await drainImport(dryId, 2);
    expect(await contactsTagged(t)).toEqual(before);
    expect(await count("SELECT count(*) AS n FROM suppressions WHERE email LIKE ?", `%${d}%`)).toBe(0);

    const realId = await startImport({ format: "csv", data: mixedFile(t), ...mixedOptions });
    const real = await drainImport(realId, 2);
    const same = ["status", "totalRows", "processedRows", "failedRows", "errors", "errorCount"] as const;
    for (const key of same) expect(dry[key]).toEqual(real[key]);
    expect(dry).toMatchObject({
      status: "completed",
      totalRows: 7,
      processedRows: 4,
      failedRows: 3,
      dryRun: true,
      wouldCreate: 3,
      wouldUpdate: 1,
    });
    expect(dry.errors).toEqual([
      { row: 3, error: "seats: not a number" },
      { row: 4, error: "Invalid email format" },
      { row: 6, error: "Duplicate externalId" },
    ]);
    expect(real).toMatchObject({ dryRun: false, wouldCreate: null, wouldUpdate: null });
    expect(await errorsCsv(dryId)).toBe(await errorsCsv(realId));
    // The real run did write: the counts above describe something that happens.
    expect((await contactsTagged(t)).map((c) => c.externalId)).toEqual([
      `${t}_existing`,
      `${t}_new1`,
      `${t}_new4`,
      `${t}_new5`,
    ]);
    expect(
      await count(
        "SELECT count(*) AS n FROM contacts WHERE external_id = ? AND unsubscribed_at IS NOT NULL",
        `${t}_new1`,
      ),
    ).toBe(1);
    expect(await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", `n4-${d}@example.com`)).toBe(1);
  });

  it("is a dry run with ?dryRun=true on a raw upload, and options can come from the X-Import-Options header", async () => {
    const t = unique("rawdry");
    const file = `id,email,created_at\n${t}_1,a@example.com,1704448800\n`;
    const viaQuery = await jobIdOf(await uploadRaw(file, "text/csv", "?preset=customerio&dryRun=true"));
    expect(await drainImport(viaQuery)).toMatchObject({
      status: "completed",
      dryRun: true,
      preset: "customerio",
      wouldCreate: 1,
    });
    expect(await contactsTagged(t)).toEqual([]);

    const header = JSON.stringify({ mapping: { id: "externalId" }, types: { created_at: "date" } });
    const res = await call("/v1/admin/contacts/import?types=%7B%22created_at%22%3A%22number%22%7D", {
      method: "POST",
      headers: { ...adminAuth(), "content-type": "text/csv", "x-import-options": header },
      body: file,
    });
    const job = await drainImport(await jobIdOf(res));
    // The query parameter wins over the header's field of the same name.
    expect(job).toMatchObject({
      status: "completed",
      dryRun: false,
      mapping: { id: "externalId" },
      types: { created_at: "number" },
    });
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: "a@example.com", properties: { created_at: 1704448800 } },
    ]);
  });

  it("a multipart upload takes the same options, and its job gets them on completion", async () => {
    const t = unique("mpdry");
    const uploads = "/v1/admin/contacts/import/uploads";
    const created = await adminPost(uploads, {
      format: "csv",
      preset: "customerio",
      types: { seats: "number" },
      dryRun: true,
    });
    expect(created.status).toBe(201);
    const { uploadId } = (await created.json()) as { uploadId: string };
    const body = new TextEncoder().encode(`id,email,seats\n${t}_1,a@example.com,3\n${t}_2,b@example.com,x\n`);
    const sent = await call(`${uploads}/${uploadId}/parts/1`, { method: "PUT", headers: adminAuth(), body });
    const { etag } = (await sent.json()) as { etag: string };
    expect((await adminPost(`${uploads}/${uploadId}/complete`, { parts: [{ partNumber: 1, etag }] })).status).toBe(202);
    expect(await drainImport(uploadId)).toMatchObject({
      status: "completed",
      dryRun: true,
      preset: "customerio",
      types: { seats: "number" },
      processedRows: 1,
      failedRows: 1,
      errors: [{ row: 2, error: "seats: not a number" }],
      wouldCreate: 1,
    });
    expect(await contactsTagged(t)).toEqual([]);
    const misspelt = await adminPost(uploads, { format: "csv", dryrun: true });
    expect((await expectErrorShape(misspelt, 400, "VALIDATION_ERROR")).error).toContain("dryrun");
  });

  it("a plain import shows no options", async () => {
    const jobId = await startImport({ format: "csv", data: `externalId\n${unique("plain")}\n` });
    expect(await getJob(jobId)).toMatchObject({
      dryRun: false,
      preset: null,
      mapping: null,
      types: null,
      wouldCreate: null,
    });
  });
});

describe("bad options: 400 in the one error shape, and no job", () => {
  const envelope = { format: "csv", data: "externalId\nx_1\n" };
  const cases: Array<[string, () => Promise<Response>, string]> = [
    ["unknown preset", () => adminPost("/v1/admin/contacts/import", { ...envelope, preset: "sendgrid" }), "preset"],
    ["unknown type", () => adminPost("/v1/admin/contacts/import", { ...envelope, types: { a: "integer" } }), "types.a"],
    ["misspelt option", () => adminPost("/v1/admin/contacts/import", { ...envelope, dryrun: true }), "dryrun"],
    ["dryRun not a boolean", () => adminPost("/v1/admin/contacts/import", { ...envelope, dryRun: "yes" }), "dryRun"],
    [
      "mapping target not a string",
      () => adminPost("/v1/admin/contacts/import", { ...envelope, mapping: { a: 1 } }),
      "mapping.a",
    ],
    [
      "mapping query not JSON",
      () => uploadRaw("externalId\nx\n", "text/csv", "?mapping=%7Bnope"),
      "mapping: not valid JSON",
    ],
    ["dryRun query not a boolean", () => uploadRaw("externalId\nx\n", "text/csv", "?dryRun=1"), "dryRun"],
    [
      "header not an object",
      () =>
        call("/v1/admin/contacts/import", {
          method: "POST",
          headers: { ...adminAuth(), "content-type": "text/csv", "x-import-options": "[1]" },
          body: "externalId\nx\n",
        }),
      "x-import-options: must be a JSON object",
    ],
  ];
  for (const [name, send, mentions] of cases) {
    it(name, async () => {
      const jobs = await countJobs();
      const body = await expectErrorShape(await send(), 400, "VALIDATION_ERROR");
      expect(body.error).toContain(mentions);
      expect(await countJobs()).toBe(jobs);
    });
  }
});
