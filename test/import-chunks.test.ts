import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QUEUES } from "../src/lib/queues";
import { processImportChunk } from "../src/services/imports/chunk";
import { call, ingestAuth, unique } from "./helpers";
import { contactsTagged, drainImport, getJob, jobRow, seedJob, testDeps } from "./imports-helpers";
import { deliver } from "./queues";

const chunk = (jobId: string, offset: number, chunkRows = 2) =>
  processImportChunk(testDeps(), { jobId, offset }, { chunkRows });
const ledger = async (jobId: string) =>
  (
    await env.DB.prepare(
      "SELECT start_offset, end_offset, rows FROM import_chunks WHERE job_id = ? ORDER BY start_offset",
    )
      .bind(jobId)
      .all<{ start_offset: number; end_offset: number; rows: number }>()
  ).results;
const storedErrors = async (jobId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM import_errors WHERE job_id = ?").bind(jobId).first<{ n: number }>())!
    .n;

/** Delivers one message to the Worker's real queue handler, as the queue would. */
const deliverChunk = (body: unknown, attempts = 1) => deliver(QUEUES.importChunks.name, [{ body, attempts }]);

describe("import chunk consumer", () => {
  it("works through a file in chunks, each starting at a record boundary, with progress moving", async () => {
    const t = unique("chunks");
    // Quoted newlines and CRLF, so a line-based cut would land inside a record.
    const csv =
      "\uFEFFexternalId,bio\r\n" +
      [1, 2, 3, 4, 5].map((i) => `${t}_${i},"line ${i}\r\nsecond, line"`).join("\r\n") +
      "\r\n";
    const jobId = await seedJob("csv", csv);

    expect(await chunk(jobId, 0)).toBe("continued");
    const job = await getJob(jobId);
    expect(job).toMatchObject({ status: "processing", processedRows: 2, failedRows: 0, totalRows: null });
    expect(job.bytesProcessed).toBeGreaterThan(0);
    expect(job.bytesProcessed).toBeLessThan(job.bytesTotal);

    const final = await drainImport(jobId, 2);
    expect(final).toMatchObject({ status: "completed", totalRows: 5, processedRows: 5, failedRows: 0 });
    expect(final.bytesProcessed).toBe(final.bytesTotal);
    expect((await ledger(jobId)).map((c) => c.rows)).toEqual([2, 2, 1]);
    expect((await contactsTagged(t)).map((c) => c.properties.bio)).toEqual(
      [1, 2, 3, 4, 5].map((i) => `line ${i}\r\nsecond, line`),
    );
  });

  it("catches a duplicate externalId across chunks; the first occurrence wins", async () => {
    const t = unique("dupx");
    const csv = `externalId,plan\n${t}_a,first\n${t}_b,x\n${t}_c,x\n${t}_a,second\n${t}_d,x\n`;
    const jobId = await seedJob("csv", csv);
    const job = await drainImport(jobId, 2);
    expect(job).toMatchObject({ processedRows: 4, failedRows: 1, errors: [{ row: 4, error: "Duplicate externalId" }] });
    expect((await contactsTagged(`${t}_a`))[0]!.properties).toEqual({ plan: "first" });
    // Every contact the job wrote carries its marker; a real run keeps no ids in import_seen_ids
    // (only dry runs do).
    const marked = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE import_job_id = ?")
      .bind(jobId)
      .first<{ n: number }>();
    expect(marked!.n).toBe(4);
    const seen = await env.DB.prepare("SELECT count(*) AS n FROM import_seen_ids WHERE job_id = ?")
      .bind(jobId)
      .first<{ n: number }>();
    expect(seen!.n).toBe(0);
  });

  it("reads NDJSON in chunks with CRLF, blank lines and a malformed line", async () => {
    const t = unique("ndj");
    const lines = [
      `{"externalId":"${t}_1"}`,
      "",
      `{"externalId":"${t}_2","properties":{"n":2}}`,
      "{oops",
      `{"externalId":"${t}_3"}`,
    ];
    const job = await drainImport(await seedJob("ndjson", lines.join("\r\n")), 1);
    expect(job).toMatchObject({
      status: "completed",
      totalRows: 4,
      processedRows: 3,
      failedRows: 1,
      errors: [{ row: 3, error: "Malformed JSON" }],
    });
    expect((await contactsTagged(t))[1]!.properties).toEqual({ n: 2 });
  });

  it("a redelivered message for a committed chunk changes nothing", async () => {
    const t = unique("redeliver");
    const jobId = await seedJob("csv", `externalId,plan\n${t}_1,imported\n,bad-row\n`);
    const first = await deliverChunk({ jobId, offset: 0 });
    expect(first.explicitAcks).toHaveLength(1);
    const after = await getJob(jobId);
    expect(after).toMatchObject({ status: "completed", processedRows: 1, failedRows: 1, totalRows: 2 });

    // Someone changes the contact; a replay of the import chunk must not overwrite it.
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "e", userId: `${t}_1`, properties: { plan: "changed" } },
    });
    const again = await deliverChunk({ jobId, offset: 0 });
    expect(again.explicitAcks).toHaveLength(1);
    expect(again.retryMessages).toHaveLength(0);
    expect(await getJob(jobId)).toMatchObject({ processedRows: 1, failedRows: 1, totalRows: 2 });
    expect(await storedErrors(jobId)).toBe(1);
    expect((await contactsTagged(t))[0]!.properties).toEqual({ plan: "changed" });
  });

  it("two deliveries of the same chunk at once commit it once", async () => {
    const t = unique("race");
    const csv = `externalId\n${Array.from({ length: 6 }, (_, i) => `${t}_${i}`).join("\n")}\n`;
    const jobId = await seedJob("csv", csv);
    await chunk(jobId, 0);
    const offset = (await jobRow(jobId))!.checkpoint_offset;
    const outcomes = await Promise.all([chunk(jobId, offset), chunk(jobId, offset), chunk(jobId, offset)]);
    expect(outcomes.filter((o) => o === "continued")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "stale")).toHaveLength(2);
    expect(await jobRow(jobId)).toMatchObject({ processed_rows: 4, checkpoint_row: 4 });
    expect(await drainImport(jobId, 2)).toMatchObject({ processedRows: 6, totalRows: 6 });
  });

  it("re-sends a follow-up lost between commit and send, so the job doesn't stall", async () => {
    const jobId = await seedJob("csv", `externalId\n${unique("lost")}_1\n${unique("lost")}_2\n${unique("lost")}_3\n`);
    await chunk(jobId, 0);
    await env.DB.prepare("UPDATE import_chunks SET follow_up_sent = 0 WHERE job_id = ?").bind(jobId).run();
    expect(await chunk(jobId, 0)).toBe("stale");
    expect(
      (await env.DB.prepare("SELECT follow_up_sent AS s FROM import_chunks WHERE job_id = ?")
        .bind(jobId)
        .first<{ s: number }>())!.s,
    ).toBe(1);
  });

  it("fails a JSON array too big to rewrite, telling the user to send NDJSON", async () => {
    const jobId = await seedJob("json", "[]", { sourceBytes: 11 * 1024 * 1024 });
    const job = await drainImport(jobId);
    expect(job.status).toBe("failed");
    expect(job.error).toContain("NDJSON");
  });

  it("acks malformed messages and messages for unknown jobs", async () => {
    expect((await deliverChunk({ nope: true })).explicitAcks).toHaveLength(1);
    expect((await deliverChunk({ jobId: crypto.randomUUID(), offset: 0 })).explicitAcks).toHaveLength(1);
  });

  it("marks the job failed when its upload is gone", async () => {
    const jobId = await seedJob("csv", "externalId\nx\n");
    await env.IMPORT_UPLOADS.delete(`imports/${jobId}/upload`);
    expect(await drainImport(jobId)).toMatchObject({
      status: "failed",
      error: "The uploaded file is missing from storage",
    });
  });
});
