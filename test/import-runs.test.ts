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

  it("starts each invocation with a short first chunk when asked, then full chunks", async () => {
    const tag = unique("ramp");
    const jobId = await seedJob("csv", csv(tag, [1, 2, 3, 4, 5, 6, 7, 8]));
    const options = { chunkRows: 3, firstChunkRows: 1, chunks: 3 };
    expect(await processImportChunk(testDeps(), { jobId, offset: 0 }, options)).toBe("continued");
    expect((await ledger(jobId)).map((c) => c.rows)).toEqual([1, 3, 3]);
    const offset = (await jobRow(jobId))!.checkpoint_offset;
    expect(await processImportChunk(testDeps(), { jobId, offset }, options)).toBe("completed");
    expect((await ledger(jobId)).map((c) => c.rows)).toEqual([1, 3, 3, 1]);
    expect(await jobRow(jobId)).toMatchObject({ status: "completed", processed_rows: 8, total_rows: 8 });
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

  it("records every address change an import makes, in the chunk's batch, and none for a repeat", async () => {
    const tag = unique("addr");
    const seed = env.DB.prepare(
      "INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at) VALUES (?, ?, ?, '{}', 0, 0)",
    );
    await env.DB.batch([
      seed.bind(`${tag}-ia`, `${tag}_a`, "a@old.example"),
      seed.bind(`${tag}-ib`, `${tag}_b`, null),
      seed.bind(`${tag}-ic`, `${tag}_c`, "c@same.example"),
    ]);
    const rows = [
      "a,a@new.example",
      "b,b@new.example",
      "c,c@same.example",
      "d,d@new.example",
      "a,a@repeat.example",
      "c,",
    ];
    const jobId = await seedJob("csv", `externalId,email\n${rows.map((r) => `${tag}_${r}`).join("\n")}\n`);
    expect(await run(jobId, 4)).toBe("completed");
    expect(await jobRow(jobId)).toMatchObject({ processed_rows: 4, failed_rows: 2 });
    const changes = await env.DB.prepare(
      `SELECT c.external_id, ch.old_value, ch.new_value, ch.source FROM contact_changes ch
        JOIN contacts c ON c.id = ch.contact_id WHERE c.external_id LIKE ? AND ch.field = 'email' ORDER BY c.external_id`,
    )
      .bind(`${tag}_%`)
      .all();
    expect(changes.results).toEqual([
      { external_id: `${tag}_a`, old_value: "a@old.example", new_value: "a@new.example", source: "import" },
      { external_id: `${tag}_b`, old_value: null, new_value: "b@new.example", source: "import" },
    ]);
    expect((await contactsTagged(`${tag}_a`))[0]!.email).toBe("a@new.example");
  });

  it("a dry run finds repeats within a run and across runs, writes no contact and leaves no seen ids", async () => {
    const tag = unique("dryrun");
    await env.DB.prepare(
      "INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at) VALUES (?, ?, NULL, '{}', 0, 0)",
    )
      .bind(`${tag}-ic`, `${tag}_c`)
      .run();
    const jobId = await seedJob("csv", csv(tag, ["a", "b", "c", "d", "a", "e", "f", "b"]));
    await env.DB.prepare(`UPDATE import_jobs SET options = '{"dryRun":true}' WHERE id = ?`).bind(jobId).run();
    // First run: three chunks, the repeat of a found in memory; second run: the repeat of b in import_seen_ids.
    expect(await run(jobId)).toBe("continued");
    expect(await run(jobId)).toBe("completed");
    expect(await jobRow(jobId)).toMatchObject({
      processed_rows: 6,
      failed_rows: 2,
      would_create: 5,
      would_update: 1,
    });
    expect(await contactsTagged(`${tag}_`)).toHaveLength(1);
    const seen = await env.DB.prepare("SELECT count(*) AS n FROM import_seen_ids WHERE job_id = ?")
      .bind(jobId)
      .first<{ n: number }>();
    expect(seen!.n).toBe(0);
  });
});
