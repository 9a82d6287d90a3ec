// The processing rate comes from the job's own timestamps, or is left out when too short to mean anything.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createClient } from "../bin/lib/api.mjs";
import { followJob, printSummary, processingPace } from "../bin/lib/import.mjs";
import { fakeServer } from "./fake-server.mjs";

/** @param {Partial<import("../bin/lib/import.mjs").ImportJob>} fields */
const job = (fields) =>
  /** @type {import("../bin/lib/import.mjs").ImportJob} */ ({
    id: "j1",
    status: "completed",
    processedRows: 5000,
    failedRows: 0,
    totalRows: 5000,
    bytesProcessed: 100,
    bytesTotal: 100,
    ...fields,
  });

test("a job that ended before the first poll reports no rows/s; a longer one its own rate", async () => {
  const quick = job({ startedAt: "2026-12-06T07:00:00.000Z", finishedAt: "2026-12-06T07:00:00.006Z" });
  const first = { at: Date.now(), rows: 0, bytes: 0 };
  assert.equal(processingPace(quick, first).rate, undefined);
  const long = job({ startedAt: "2026-12-06T07:00:00.000Z", finishedAt: "2026-12-06T07:00:02.000Z" });
  assert.equal(processingPace(long, first).rate, 2500);

  const server = await fakeServer(() => ({ json: quick }));
  try {
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk) => {
      text += chunk;
    });
    const client = createClient({ url: server.url, adminKey: "k" });
    printSummary(await followJob(client, "j1", { tty: false, out }), out);
    assert.match(text, /5,000 rows/);
    assert.doesNotMatch(text, /rows\/s/);
  } finally {
    await server.close();
  }
});
