// Crash test for imports against a real `wrangler dev` (127.0.0.1, fresh state): upload a CSV
// with repeated externalIds (each 30,000 rows after its first occurrence: chunks apart), SIGKILL the whole dev server mid-import, start it again on the same
// local state, let self-healing's cron resume the job, and check the counts are exact: every row
// counted once, every repeat a "Duplicate externalId" that didn't overwrite the first occurrence,
// and exactly one contact per distinct id. Exits 1 on any mismatch.
//
//   npm run bench:import-crash                 # 1,000,000 rows, every 50th from row 30,000 a repeat
//   CRASH_ROWS=100000 npm run bench:import-crash
//
// Locally a crash loses the in-flight queue message (production queues are durable), so the job
// stays `processing` until the cron re-enqueues it, which it does once the job has made no
// progress for 5 minutes. Instead of waiting, the script moves the job's `updated_at` back 10
// minutes while the server is down (`wrangler d1 execute --local`): the only thing it fakes is time.
import path from "node:path";
import { assertNode22, sleep, TMP_DIR, wrangler } from "./lib/dev-server.mjs";
import {
  ADMIN_KEY,
  freshState,
  isRepeat,
  jobStatus,
  log,
  startServer,
  stopGroup,
  upload,
  waitForJob,
  writeCsv,
} from "./lib/import-server.mjs";
import { writeSection } from "./lib/results.mjs";

assertNode22();
const ROWS = Number(process.env.CRASH_ROWS ?? 1_000_000);
const REPEAT_EVERY = 50;
const REPEAT_DISTANCE = 30_000;
const PREFIX = "crash";

async function sql(persistTo, command) {
  const out = await wrangler([
    "d1",
    "execute",
    "DB",
    "--local",
    "--persist-to",
    persistTo,
    "--json",
    "--command",
    command,
  ]);
  return JSON.parse(out.slice(out.indexOf("[")))[0].results;
}

async function crashMidImport(server, jobId) {
  for (;;) {
    const job = await jobStatus(server.base, jobId);
    if (job.status !== "processing" && job.status !== "pending")
      throw new Error(`job ended before the crash: ${job.status}`);
    if (job.processedRows > 0) {
      await stopGroup(server.pgid, "SIGKILL");
      return job;
    }
    await sleep(10);
  }
}

/** Restarts the server on the same state, triggers the cron and waits for the job to end. */
async function resumeByCron(persistTo, jobId, vars) {
  const server = await startServer("import-crash", persistTo, { vars });
  try {
    const stalled = await jobStatus(server.base, jobId);
    log(`restarted: job ${stalled.status} at ${stalled.processedRows} rows; triggering the cron`);
    const cron = await fetch(`${server.base}/__scheduled?cron=*/2+*+*+*+*`);
    await cron.arrayBuffer();
    const job = await waitForJob(server.base, jobId, { timeoutMs: 10 * 60_000 });
    log(`job ${job.status}: total ${job.totalRows}, processed ${job.processedRows}, failed ${job.failedRows}`);
    return job;
  } finally {
    await server.stop();
  }
}

async function main() {
  const persistTo = await freshState("import-crash-state");
  const file = path.join(TMP_DIR, "crash.csv");
  writeCsv(file, PREFIX, ROWS, { repeatEvery: REPEAT_EVERY, repeatDistance: REPEAT_DISTANCE });
  let repeats = 0;
  for (let i = 0; i < ROWS; i++) if (isRepeat(i, REPEAT_EVERY, REPEAT_DISTANCE)) repeats += 1;
  const distinct = ROWS - repeats;
  const vars = [`ADMIN_API_KEY:${ADMIN_KEY}`];

  const server = await startServer("import-crash", persistTo, { vars });
  const jobId = await upload(server.base, file);
  const atCrash = await crashMidImport(server, jobId);
  log(`killed the dev server (SIGKILL to its process group) at ${atCrash.processedRows} of ${ROWS} rows`);

  await sql(persistTo, `UPDATE import_jobs SET updated_at = updated_at - 600000 WHERE id = '${jobId}'`);
  const final = await resumeByCron(persistTo, jobId, vars);
  const [stored] = await sql(
    persistTo,
    `SELECT (SELECT count(*) FROM contacts WHERE import_job_id = '${jobId}') AS contacts,
            (SELECT count(*) FROM import_errors WHERE job_id = '${jobId}' AND error = 'Duplicate externalId') AS errors,
            (SELECT properties FROM contacts WHERE external_id = '${PREFIX}_1') AS firstOfRepeated`,
  );
  const checks = [
    ["status", final.status, "completed"],
    ["totalRows", final.totalRows, ROWS],
    ["processedRows", final.processedRows, distinct],
    ["failedRows (repeats)", final.failedRows, repeats],
    ["contacts marked with the job", stored.contacts, distinct],
    ["stored Duplicate externalId errors (capped at 1000)", stored.errors, Math.min(repeats, 1000)],
    // crash_1 is row 2 (plan "pro") and again row 30,001 (plan "free"): the first occurrence wins.
    ["first occurrence of a repeated id kept", JSON.parse(stored.firstOfRepeated).plan, "pro"],
  ];
  let failed = 0;
  const lines = [];
  for (const [name, actual, expected] of checks) {
    const ok = actual === expected;
    if (!ok) failed += 1;
    lines.push(`| ${name} | ${actual} | ${expected} | ${ok ? "ok" : "**FAIL**"} |`);
    console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${actual}${ok ? "" : ` (expected ${expected})`}`);
  }
  writeSection(
    "import-crash",
    [
      "## Import crash (`npm run bench:import-crash`)",
      "",
      `- Date: ${new Date().toISOString()}`,
      "",
      `${ROWS.toLocaleString("en-US")} CSV rows, every ${REPEAT_EVERY}th from row ${REPEAT_DISTANCE.toLocaleString("en-US")} repeating the id`,
      `${REPEAT_DISTANCE.toLocaleString("en-US")} rows earlier. The dev server's process group got SIGKILL at`,
      `${atCrash.processedRows.toLocaleString("en-US")} rows processed; restarted on the same local state, the job's`,
      "`updated_at` moved back 10 minutes (the stall the cron waits for), `/__scheduled` triggered once.",
      "",
      "| check | got | expected | |",
      "|---|---:|---:|---|",
      ...lines,
    ].join("\n"),
  );
  process.exit(failed > 0 ? 1 : 0);
}

await main();
