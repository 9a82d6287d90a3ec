// Import benchmark: CSV files of 10k, 100k and 1M rows go through the real raw-upload route, the
// import queue and D1 in `wrangler dev` (127.0.0.1 only, fresh persist dir), next to a baseline of
// the same rows upserted straight into the same local D1. Writes bench/RESULTS.md.
//
//   npm run bench:import                       # all sizes
//   BENCH_SIZES=10000,100000 npm run bench:import
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { writeSection } from "./lib/results.mjs";

const ROOT = path.resolve(import.meta.dirname, "..");
const TMP = path.join(ROOT, "bench", ".tmp");
const PERSIST = path.join(TMP, "import-state");
const SIZES = (process.env.BENCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
const BASELINE_SIZES = (process.env.BENCH_BASELINE_SIZES ?? process.env.BENCH_SIZES ?? "10000,100000,1000000")
  .split(",")
  .map(Number);
/** Statements per db.batch in the baseline: 4500 rows, about what one import chunk commits. */
const BASELINE_STATEMENTS_PER_BATCH = 500;
const IMPORT_TIMEOUT_MS = 30 * 60 * 1000;
const ADMIN_KEY = "bench-admin-key";
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" };
const PLANS = ["free", "pro", "team"];
const SOURCES = ["ads", "organic", "referral", "partner"];

const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

// ---------- data ----------

function rowOf(prefix, i) {
  return {
    externalId: `${prefix}_${i}`,
    email: `${prefix}.${i}@example.com`,
    plan: PLANS[i % 3],
    company: `Company ${i % 1000}`,
    source: SOURCES[i % 4],
  };
}

/** Writes a CSV of `rows` contacts in pieces (a 1M-row file is ~70 MB). */
function writeCsv(file, prefix, rows) {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "externalId,email,plan,company,source\n");
  let buf = [];
  for (let i = 0; i < rows; i++) {
    const r = rowOf(prefix, i);
    buf.push(`${r.externalId},${r.email},${r.plan},${r.company},${r.source}\n`);
    if (buf.length === 10_000) {
      fs.writeSync(fd, buf.join(""));
      buf = [];
    }
  }
  fs.writeSync(fd, buf.join(""));
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

// ---------- processes ----------

function wrangler(args) {
  return execFileSync("npx", ["wrangler", ...args], {
    cwd: ROOT,
    env: ENV,
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function startDev(port, extraArgs = [], logName = "wrangler-dev.log") {
  const logFile = fs.openSync(path.join(TMP, logName), "w");
  // detached: a new session and process group, so the whole tree (npx → wrangler → workerd) stops together.
  const child = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      PERSIST,
      "--show-interactive-dev-session=false",
      ...extraArgs,
    ],
    { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", logFile, logFile] },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    try {
      const res = await fetch(`${base}/v1/health`);
      if (res.status < 500) return { child, base };
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  stopDev(child);
  throw new Error(`wrangler dev did not come up; see bench/.tmp/${logName}`);
}

function stopDev(child) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------- memory ----------

/** workerd processes in the dev server's process group. */
function workerdPids(pgid) {
  const pids = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (comm.startsWith("workerd") && Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  return pids;
}

function statusKb(pid, field) {
  const match = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return match ? Number(match[1]) : 0;
}

/**
 * Samples the workerd RSS every 100 ms; `stop()` returns the peaks seen (total, anonymous = heaps,
 * file-backed = mapped files such as the local SQLite database) and the kernel's VmHWM.
 */
function sampleMemory(pgid) {
  const peak = { VmRSS: 0, RssAnon: 0, RssFile: 0 };
  const timer = setInterval(() => {
    for (const pid of workerdPids(pgid)) {
      try {
        for (const field of Object.keys(peak)) peak[field] = Math.max(peak[field], statusKb(pid, field));
      } catch {
        // gone
      }
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const hwmKb = Math.max(0, ...workerdPids(pgid).map((pid) => statusKb(pid, "VmHWM")));
      return {
        peakRssMb: peak.VmRSS / 1024,
        peakAnonMb: peak.RssAnon / 1024,
        peakFileMb: peak.RssFile / 1024,
        hwmMb: hwmKb / 1024,
      };
    },
  };
}

// ---------- the runs ----------

async function importFile(base, file, bytes, rows, pgid) {
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };
  const memory = sampleMemory(pgid);
  const started = performance.now();
  const res = await fetch(`${base}/v1/admin/contacts/import?format=csv&fileName=${path.basename(file)}`, {
    method: "POST",
    headers: { ...auth, "content-type": "text/csv", "content-length": String(bytes) },
    body: fs.readFileSync(file),
  });
  const accepted = await res.json();
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(accepted)}`);
  const uploadSeconds = (performance.now() - started) / 1000;
  let job;
  let lastLogged = 0;
  for (;;) {
    job = await (await fetch(`${base}/v1/admin/contacts/import/${accepted.jobId}`, { headers: auth })).json();
    if (!["pending", "processing"].includes(job.status)) break;
    if (performance.now() - started > IMPORT_TIMEOUT_MS)
      throw new Error(`import of ${rows} rows timed out: ${JSON.stringify(job)}`);
    if (performance.now() - lastLogged > 15_000) {
      log(`  ${rows} rows: ${job.status}, ${job.processedRows} processed`);
      lastLogged = performance.now();
    }
    await sleep(200);
  }
  const seconds = (performance.now() - started) / 1000;
  const mem = memory.stop();
  if (job.status !== "completed" || job.processedRows !== rows || job.totalRows !== rows) {
    throw new Error(`import of ${rows} rows ended ${JSON.stringify({ ...job, errors: job.errors.slice(0, 3) })}`);
  }
  return { rows, bytes, seconds, uploadSeconds, rowsPerSecond: rows / seconds, ...mem };
}

async function exportCsv(base, limit, pgid) {
  const memory = sampleMemory(pgid);
  const started = performance.now();
  const res = await fetch(`${base}/v1/admin/contacts/export?format=csv&limit=${limit}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  });
  const text = await res.text();
  const seconds = (performance.now() - started) / 1000;
  const lines = text.trimEnd().split("\n").length - 1;
  if (res.status !== 200 || lines !== limit) throw new Error(`export answered ${res.status} with ${lines} rows`);
  return { rows: lines, bytes: Buffer.byteLength(text), seconds, ...memory.stop() };
}

function machine() {
  const cpu = os.cpus()[0]?.model ?? "unknown";
  return {
    uname: execFileSync("uname", ["-a"]).toString().trim(),
    nproc: execFileSync("nproc").toString().trim(),
    cpu,
    memGb: (os.totalmem() / 1024 ** 3).toFixed(1),
    date: new Date().toISOString(),
    node: process.version,
  };
}

const loadAverage = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function main() {
  const loadAtStart = loadAverage();
  fs.rmSync(PERSIST, { recursive: true, force: true });
  fs.mkdirSync(TMP, { recursive: true });
  log("applying migrations to a fresh persist dir");
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", PERSIST]);

  // Baseline first, while the main dev server is not running: the same rows (own prefix, so they
  // insert fresh like the import's do) upserted by a bench-only Worker on the same local database.
  const baseline = [];
  {
    const port = await freePort();
    log(`starting the baseline Worker on 127.0.0.1:${port}`);
    const { child, base } = await startDev(port, ["-c", "bench/baseline.wrangler.toml"], "wrangler-baseline.log");
    try {
      for (const rows of BASELINE_SIZES) {
        log(`baseline: ${rows} rows`);
        const started = performance.now();
        const res = await fetch(
          `${base}/?rows=${rows}&prefix=base_${rows}&statementsPerBatch=${BASELINE_STATEMENTS_PER_BATCH}`,
        );
        const body = await res.json();
        const seconds = (performance.now() - started) / 1000;
        if (body.inserted !== rows) throw new Error(`baseline inserted ${body.inserted} of ${rows}`);
        baseline.push({ rows, seconds, workerSeconds: body.seconds, rowsPerSecond: rows / seconds });
        log(`  ${seconds.toFixed(1)} s, ${Math.round(rows / seconds)} rows/s`);
      }
    } finally {
      stopDev(child);
      await sleep(2000);
    }
  }

  const port = await freePort();
  log(`starting wrangler dev on 127.0.0.1:${port}`);
  const { child, base } = await startDev(port, ["--var", `ADMIN_API_KEY:${ADMIN_KEY}`]);
  const imports = [];
  let exported;
  try {
    for (const rows of SIZES) {
      const file = path.join(TMP, `contacts-${rows}.csv`);
      const bytes = writeCsv(file, `imp_${rows}`, rows);
      log(`import: ${rows} rows (${(bytes / 1024 / 1024).toFixed(1)} MB)`);
      const result = await importFile(base, file, bytes, rows, child.pid);
      log(`  ${result.seconds.toFixed(1)} s, ${Math.round(result.rowsPerSecond)} rows/s`);
      imports.push(result);
      fs.rmSync(file);
    }
    log("export: 10000 rows as CSV");
    exported = await exportCsv(base, 10_000, child.pid);
  } finally {
    stopDev(child);
  }
  const results = { machine: { ...machine(), loadAtStart, loadAtEnd: loadAverage() }, baseline, imports, exported };
  fs.writeFileSync(path.join(TMP, "results.json"), JSON.stringify(results, null, 2));
  writeSection("import", report(results));
}

function report({ machine, baseline, imports, exported }) {
  const f = (n, d = 1) => n.toFixed(d);
  const int = (n) => Math.round(n).toLocaleString("en-US");
  const baseOf = (rows) => baseline.find((b) => b.rows === rows);
  const lines = [
    "## Contact import and export (`npm run bench:import`)",
    "",
    "Generated by `npm run bench:import` (bench/import.mjs) in one run. Local `wrangler dev` (workerd with",
    "SQLite-backed local D1, file-backed R2, in-process queues), not Cloudflare's network: absolute numbers will differ",
    "there; the ratio and the growth with size are the point.",
    "",
    `- date: ${machine.date}`,
    `- uname: \`${machine.uname}\``,
    `- nproc: ${machine.nproc}; CPU: ${machine.cpu}; RAM: ${machine.memGb} GB; Node ${machine.node}`,
    `- load average (1/5/15 min) at start: ${machine.loadAtStart}; at end: ${machine.loadAtEnd} (other work shares this machine, so expect noise)`,
    "",
    "### Import through the real route and queue",
    "",
    "Time from the start of the upload (`POST /v1/admin/contacts/import?format=csv`, raw body streamed to R2) until",
    "the job status reads `completed` (polled every 200 ms). Rows `externalId,email,plan,company,source`, all new",
    "contacts. Chunks of 4000 rows, one queue message each.",
    "",
    "| rows | file | upload | total time | rows/s | s per 100k rows |",
    "|---:|---:|---:|---:|---:|---:|",
    ...imports.map(
      (r) =>
        `| ${int(r.rows)} | ${f(r.bytes / 1024 / 1024)} MB | ${f(r.uploadSeconds, 2)} s | ${f(r.seconds)} s | ${int(r.rowsPerSecond)} | ${f((r.seconds / r.rows) * 100_000)} |`,
    ),
    "",
    "### Baseline: the same rows upserted straight into the same local D1",
    "",
    "A bench-only Worker (`bench/baseline-worker.js`, its own `bench/baseline.wrangler.toml`, same database id and",
    "persist dir, run before the main dev server starts) upserts the same rows with the import's own statement (same",
    "columns, same `ON CONFLICT (external_id) DO UPDATE` merge) at the platform's limit: 100 bound parameters = 11",
    `rows per statement, ${BASELINE_STATEMENTS_PER_BATCH} statements per \`db.batch\`, all in one request. No CSV parsing, validation,`,
    "duplicate tracking, R2, queue or checkpoints. Timed from the client, request to response.",
    "",
    "| rows | time | rows/s |",
    "|---:|---:|---:|",
    ...baseline.map((b) => `| ${int(b.rows)} | ${f(b.seconds, 2)} s | ${int(b.rowsPerSecond)} |`),
    "",
    "### Ratio (import ÷ baseline)",
    "",
    "| rows | import rows/s | baseline rows/s | ratio |",
    "|---:|---:|---:|---:|",
    ...imports
      .filter((r) => baseOf(r.rows))
      .map(
        (r) =>
          `| ${int(r.rows)} | ${int(r.rowsPerSecond)} | ${int(baseOf(r.rows).rowsPerSecond)} | ${f(r.rowsPerSecond / baseOf(r.rows).rowsPerSecond, 2)} |`,
      ),
    "",
    "### Memory of the runtime (workerd)",
    "",
    "Peaks of the dev server's workerd process, sampled every 100 ms from `/proc/<pid>/status` during each phase:",
    "VmRSS (all resident memory), RssAnon (heaps: the Worker's JS isolate and workerd itself) and RssFile (mapped",
    "files, such as the local SQLite database, which grows with the rows stored). VmHWM is the kernel's high-water",
    "mark since that workerd started, so it includes earlier phases. workerd here also hosts the local D1, R2 and",
    "queue simulators, so these numbers are an upper bound for the Worker itself.",
    "",
    "| phase | peak VmRSS | peak RssAnon | peak RssFile | VmHWM at the end |",
    "|---|---:|---:|---:|---:|",
    ...imports.map(
      (r) =>
        `| import ${int(r.rows)} rows | ${f(r.peakRssMb)} MB | ${f(r.peakAnonMb)} MB | ${f(r.peakFileMb)} MB | ${f(r.hwmMb)} MB |`,
    ),
    `| export ${int(exported.rows)} rows as CSV (${f(exported.bytes / 1024 / 1024, 2)} MB in ${f(exported.seconds, 2)} s) | ${f(exported.peakRssMb)} MB | ${f(exported.peakAnonMb)} MB | ${f(exported.peakFileMb)} MB | ${f(exported.hwmMb)} MB |`,
    "",
  ];
  return lines.join("\n");
}

await main();
