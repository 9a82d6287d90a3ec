import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { processImportChunk } from "../src/services/imports/chunk";
import { unique } from "./helpers";
import { contactsTagged, drainImport, jobRow, seedJob, testDeps } from "./imports-helpers";

/** Several chunks in one invocation, as the queue consumer runs them. */
const run = async (jobId: string, chunks = 3) =>
  processImportChunk(testDeps(), { jobId, offset: (await jobRow(jobId))!.checkpoint_offset }, { chunkRows: 2, chunks });
const ledger = async (jobId: string) =>
  (
    await env.DB.prepare(
      "SELECT start_offset, rows, follow_up_sent FROM import_chunks WHERE job_id = ? ORDER BY start_offset",
    )
      .bind(jobId)
      .all<{ start_offset: number; rows: number; follow_up_sent: number }>()
  ).results;
const csv = (tag: string, ids: Array<number | string>) =>
  `externalId,plan\n${ids.map((id, i) => `${tag}_${id},p${i + 1}`).join("\n")}\n`;

describe("import runs of several chunks per invocation", () => {
  it("commits each chunk on its own and queues one follow-up, from the last", async () => {
    const tag = unique("run");
    const jobId = await seedJob("csv", csv(tag, [1, 2, 3, 4, 5, 6, 7]));
    expect(await run(jobId)).toBe("continued");
    expect(await ledger(jobId)).toMatchObject([
      { rows: 2, follow_up_sent: 0 },
      { rows: 2, follow_up_sent: 0 },
      { rows: 2, follow_up_sent: 1 },
    ]);
    expect(await jobRow(jobId)).toMatchObject({ status: "processing", checkpoint_row: 6, processed_rows: 6 });
    expect(await run(jobId)).toBe("completed");
    const marked = await env.DB.prepare("SELECT count(*) AS n FROM contacts WHERE import_job_id = ?")
      .bind(jobId)
      .first<{ n: number }>();
    expect(marked!.n).toBe(7);
  });

  it("keeps the first occurrence of an id repeated two chunks later in the same invocation", async () => {
    const tag = unique("rep");
    const jobId = await seedJob("csv", csv(tag, ["a", "b", "c", "d", "a", "e"]));
    expect(await run(jobId)).toBe("completed");
    const job = await jobRow(jobId);
    expect(job).toMatchObject({ processed_rows: 5, failed_rows: 1, total_rows: 6 });
    expect((await contactsTagged(`${tag}_a`))[0]!.properties).toEqual({ plan: "p1" });
  });

  it("a later chunk's failure ends the run: the chunks before stay, the follow-up points at the failed one", async () => {
    const tag = unique("midfail");
    const jobId = await seedJob("csv", csv(tag, [1, 2, 3, 4, 5, 6]));
    await env.DB.exec(
      `CREATE TRIGGER midfail_${tag} BEFORE INSERT ON contacts WHEN NEW.external_id = '${tag}_3' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    );
    try {
      expect(await run(jobId)).toBe("continued");
      expect(await jobRow(jobId)).toMatchObject({ status: "processing", checkpoint_row: 2, processed_rows: 2 });
      expect(await ledger(jobId)).toMatchObject([{ rows: 2, follow_up_sent: 1 }]);
    } finally {
      await env.DB.exec(`DROP TRIGGER midfail_${tag}`);
    }
    expect(await drainImport(jobId, 2)).toMatchObject({ status: "completed", processedRows: 6, failedRows: 0 });
    expect(await contactsTagged(`${tag}_`)).toHaveLength(6);
  });

  it("a retried message after a run that died before queueing re-sends the follow-up from the last chunk", async () => {
    const tag = unique("died");
    const jobId = await seedJob("csv", csv(tag, [1, 2, 3, 4, 5, 6, 7]));
    await run(jobId);
    // The invocation died between its last commit and the send: no follow-up recorded anywhere.
    await env.DB.prepare("UPDATE import_chunks SET follow_up_sent = 0 WHERE job_id = ?").bind(jobId).run();
    const retried = () => processImportChunk(testDeps(), { jobId, offset: 0 }, { chunkRows: 2, chunks: 3 });
    expect(await retried()).toBe("stale");
    expect((await ledger(jobId)).map((c) => c.follow_up_sent)).toEqual([0, 0, 1]);
    // Another copy of the same message finds the follow-up sent and does nothing more.
    expect(await retried()).toBe("stale");
    expect((await ledger(jobId)).map((c) => c.follow_up_sent)).toEqual([0, 0, 1]);
    expect(await jobRow(jobId)).toMatchObject({ checkpoint_row: 6, processed_rows: 6 });
  });
});
