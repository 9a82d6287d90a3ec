import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deadLetterQueue, lastAttempt, QUEUES, retryDelaySeconds } from "../src/lib/queues";
import { processImportChunk } from "../src/services/imports/chunk";
import { unique } from "./helpers";
import { contactsTagged, drainImport, getJob, jobRow, seedJob, testDeps } from "./imports-helpers";
import { deliver, runCron } from "./queues";

const csv = (tag: string, n: number) =>
  ["externalId,email,plan", ...Array.from({ length: n }, (_, i) => `${tag}_${i},${tag}_${i}@example.com,pro`)].join(
    "\n",
  );

describe("import faults", () => {
  it("a chunk that throws half-way through the file is retried and the final counts are exact", async () => {
    const tag = unique("fault");
    const jobId = await seedJob("csv", csv(tag, 6));
    // A real fault at the database boundary: inserting this contact aborts, like a D1 error would.
    await env.DB.exec(
      `CREATE TRIGGER fault_${tag} BEFORE INSERT ON contacts WHEN NEW.external_id = '${tag}_3' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    );
    const step = async () =>
      processImportChunk(testDeps(), { jobId, offset: (await jobRow(jobId))!.checkpoint_offset }, { chunkRows: 2 });

    expect(await step()).toBe("continued");
    await expect(step()).rejects.toThrow(/injected fault/);
    expect(await jobRow(jobId)).toMatchObject({
      status: "processing",
      processed_rows: 2,
      failed_rows: 0,
      checkpoint_row: 2,
    });
    expect(await contactsTagged(`${tag}_`)).toHaveLength(2);

    await env.DB.exec(`DROP TRIGGER fault_${tag}`);
    const done = await drainImport(jobId, 2);
    expect(done).toMatchObject({ status: "completed", totalRows: 6, processedRows: 6, failedRows: 0 });
    expect(await contactsTagged(`${tag}_`)).toHaveLength(6);
  });

  it("a chunk that keeps failing fails the job with the reason on its last delivery", async () => {
    const tag = unique("poison");
    const jobId = await seedJob("csv", csv(tag, 2));
    await env.DB.exec(
      `CREATE TRIGGER poison_${tag} BEFORE INSERT ON contacts WHEN NEW.external_id = '${tag}_0' BEGIN SELECT RAISE(ABORT, 'constraint broken'); END`,
    );
    try {
      const attempt = (attempts: number) =>
        deliver(QUEUES.importChunks.name, [{ id: `m${attempts}`, attempts, body: { jobId, offset: 0 } }]);
      const last = lastAttempt(QUEUES.importChunks.maxRetries);
      expect((await attempt(1)).delays).toEqual({ m1: retryDelaySeconds(1) });
      expect((await attempt(last)).explicitAcks).toEqual([`m${last}`]);
    } finally {
      await env.DB.exec(`DROP TRIGGER poison_${tag}`);
    }
    const job = await getJob(jobId);
    expect(job.status).toBe("failed");
    expect(job.error).toContain("constraint broken");
  });

  it("a dead-lettered import message fails its job, even one whose row can't be read", async () => {
    const jobId = await seedJob("csv", csv(unique("dlq"), 1));
    await env.DB.prepare("UPDATE import_jobs SET status = 'processing', header = 'not json' WHERE id = ?")
      .bind(jobId)
      .run();
    const result = await deliver(deadLetterQueue(QUEUES.importChunks.name), [
      { id: "dead-1", attempts: 6, body: { jobId, offset: 0 } },
    ]);
    expect(result.explicitAcks).toEqual(["dead-1"]);
    const row = await env.DB.prepare("SELECT status, error FROM import_jobs WHERE id = ?")
      .bind(jobId)
      .first<{ status: string; error: string }>();
    expect(row).toMatchObject({ status: "failed", error: expect.stringContaining("dead-lettered") });
    const dead = await env.DB.prepare("SELECT subject FROM dead_letters WHERE message_id = 'dead-1'").first<{
      subject: string;
    }>();
    expect(dead!.subject).toBe(`import:${jobId}`);
  });
});

describe("self-healing of stalled imports", () => {
  it("re-enqueues a stalled job from its checkpoint, and fails it after repeated attempts without progress", async () => {
    const tag = unique("stall");
    const jobId = await seedJob("csv", csv(tag, 4));
    await processImportChunk(testDeps(), { jobId, offset: 0 }, { chunkRows: 2 });
    const stalledAt = Date.now() - 10 * 60_000;
    await env.DB.prepare("UPDATE import_jobs SET updated_at = ? WHERE id = ?").bind(stalledAt, jobId).run();

    await runCron();
    const requeued = await env.DB.prepare("SELECT recovery_attempts, status FROM import_jobs WHERE id = ?")
      .bind(jobId)
      .first();
    expect(requeued).toMatchObject({ recovery_attempts: 1 });

    // No progress through three recoveries: the job fails with a message instead of hanging.
    await env.DB.prepare(
      "UPDATE import_jobs SET status = 'processing', recovery_attempts = 3, updated_at = ? WHERE id = ?",
    )
      .bind(stalledAt, jobId)
      .run();
    await runCron();
    const job = await getJob(jobId);
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(/stalled at data row \d+: no progress after 3 recovery attempts/);
  });

  it("leaves jobs that are making progress alone", async () => {
    const jobId = await seedJob("csv", csv(unique("moving"), 4));
    await processImportChunk(testDeps(), { jobId, offset: 0 }, { chunkRows: 2 });
    await runCron();
    expect(
      (await env.DB.prepare("SELECT recovery_attempts FROM import_jobs WHERE id = ?")
        .bind(jobId)
        .first<{ recovery_attempts: number }>())!.recovery_attempts,
    ).toBe(0);
  });
});

describe("random bytes as a CSV import", () => {
  it("end completed or failed with a message, with consistent counts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2000 }),
          fc.string({ maxLength: 500 }).map((s) => new TextEncoder().encode(`externalId,email\n${s}`)),
          fc
            .array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })), { maxLength: 30 })
            .map((rows) =>
              new TextEncoder().encode(["externalId,email", ...rows.map(([a, b]) => `${a},${b}`)].join("\r\n")),
            ),
        ),
        async (bytes) => {
          const jobId = await seedJob("csv", "");
          await env.IMPORT_UPLOADS.put(`imports/${jobId}/upload`, bytes);
          await env.DB.prepare("UPDATE import_jobs SET source_bytes = ? WHERE id = ?")
            .bind(bytes.byteLength, jobId)
            .run();
          const job = await drainImport(jobId, 7);
          expect(["completed", "failed"]).toContain(job.status);
          if (job.status === "failed") expect(job.error).toMatch(/\S/);
          else expect(job.processedRows + job.failedRows).toBe(job.totalRows);
          expect(job.processedRows + job.failedRows).toBeLessThanOrEqual(job.totalRows ?? Number.MAX_SAFE_INTEGER);
        },
      ),
      { numRuns: 40, seed: 4242 },
    );
  });
});
