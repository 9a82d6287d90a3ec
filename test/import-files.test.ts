import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deleteFinishedImportFiles, FINISHED_FILES_GRACE_MS } from "../src/services/imports/finished-files";
import { adminAuth, call, unique } from "./helpers";
import { drainImport, seedJob, testDeps } from "./imports-helpers";
import { runCron } from "./queues";

const fileOf = (jobId: string) => env.IMPORT_UPLOADS.head(`imports/${jobId}/upload`);
const later = () => Date.now() + FINISHED_FILES_GRACE_MS + 1000;

describe("import files leave R2 once their job ended", () => {
  it("deletes an ended job's upload after the grace, keeps a running job's and a fresh one's", async () => {
    const person = unique("file-person");
    const done = await seedJob("csv", `externalId,email\n${person},${person}@example.com\n`);
    expect((await drainImport(done)).status).toBe("completed");
    const running = await seedJob("csv", `externalId\n${unique("file-running")}\n`);

    // Within the grace (a chunk message in flight may still read it): kept.
    await runCron();
    expect(await fileOf(done)).not.toBeNull();

    expect(await deleteFinishedImportFiles(testDeps(), later())).toBeGreaterThanOrEqual(1);
    expect(await fileOf(done)).toBeNull();
    expect(await fileOf(running)).not.toBeNull();
    // The job itself, its counts and errors stay readable.
    const job = await call(`/v1/admin/contacts/import/${done}`, { headers: adminAuth() });
    expect(await job.json()).toMatchObject({ status: "completed", processedRows: 1 });
  });

  it("keeps listing past files it must keep, so they can't hide an ended job's", async () => {
    const running = await seedJob("csv", `externalId\n${unique("file-first")}\n`); // sorts first: ids are time-ordered
    const done = await seedJob("csv", `externalId\n${unique("file-after")}\n`);
    expect((await drainImport(done)).status).toBe("completed");
    expect(await deleteFinishedImportFiles(testDeps(), later(), { pageSize: 1 })).toBeGreaterThanOrEqual(1);
    expect(await fileOf(done)).toBeNull();
    expect(await fileOf(running)).not.toBeNull();
  });

  it("a JSON array's NDJSON rewrite goes too", async () => {
    const job = await seedJob("json", JSON.stringify([{ externalId: unique("file-json") }]));
    expect((await drainImport(job)).status).toBe("completed");
    const before = await env.IMPORT_UPLOADS.list({ prefix: `imports/${job}/` });
    expect(before.objects.length).toBe(2);
    await deleteFinishedImportFiles(testDeps(), later());
    expect((await env.IMPORT_UPLOADS.list({ prefix: `imports/${job}/` })).objects).toEqual([]);
  });
});
