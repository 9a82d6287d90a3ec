// Import benchmark: CSV files of 10k, 100k and 1M rows go through the real raw-upload route, the
// import queue and D1 in `wrangler dev` (127.0.0.1 only, fresh state), measured in the same run as
// the ceiling: the same rows upserted straight into a local D1 with the import's merge by a
// bench-only Worker (bench/baseline-worker.js), json_each form, plus the 100-parameter form for
// reference. Each size runs baseline, reference, import back to back. Writes bench/RESULTS.md.
//
//   npm run bench:import                       # 10k, 100k, 1M
//   BENCH_SIZES=10000,100000 npm run bench:import
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { assertNode22, sleep, TMP_DIR } from "./lib/dev-server.mjs";
import { report } from "./lib/import-report.mjs";
import {
  ADMIN_KEY,
  freshState,
  log,
  pageUse,
  rssSampler,
  startServer,
  upload,
  waitForJob,
  writeCsv,
} from "./lib/import-server.mjs";
import { machineFacts, machineLines, writeSection } from "./lib/results.mjs";
import { startHeapSampler } from "./lib/worker-heap.mjs";

assertNode22();
const SIZES = (process.env.BENCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
const FORMS = ["json", "params"];

/** Untimed first runs, so JIT and first-touch costs of a fresh server don't land on the 10k row. */
const WARM_UP_ROWS = 2000;

async function baselineRun(server, form, rows, prefix = `${form}_${rows}`) {
  const memory = rssSampler(server.pgid);
  const started = performance.now();
  const res = await fetch(`${server.base}/?rows=${rows}&prefix=${prefix}&form=${form}`, {
    signal: AbortSignal.timeout(10 * 60_000),
  });
  const body = await res.json();
  const seconds = (performance.now() - started) / 1000;
  const peakRssMiB = memory.stop();
  if (body.inserted !== rows) throw new Error(`${form} baseline inserted ${body.inserted} of ${rows}`);
  return { rows, seconds, rowsPerSecond: rows / seconds, peakRssMiB, rssGrowthMiB: peakRssMiB - memory.startMiB };
}

async function importRun(server, rows, prefix = `imp_${rows}`) {
  const file = path.join(TMP_DIR, `contacts-${rows}.csv`);
  const bytes = writeCsv(file, prefix, rows);
  const memory = rssSampler(server.pgid);
  const heap = await startHeapSampler(server.inspectorPort);
  const started = performance.now();
  const jobId = await upload(server.base, file);
  const uploadSeconds = (performance.now() - started) / 1000;
  let lastLog = performance.now();
  const job = await waitForJob(server.base, jobId, {
    onProgress: (j) => {
      if (performance.now() - lastLog < 15_000) return;
      lastLog = performance.now();
      log(`  ${rows} rows: ${j.status}, ${j.processedRows} processed`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const peakRssMiB = memory.stop();
  const peakHeapMiB = await heap.stop();
  fs.rmSync(file);
  if (job.status !== "completed" || job.processedRows !== rows || job.totalRows !== rows) {
    throw new Error(`import of ${rows} rows ended ${JSON.stringify({ ...job, errors: job.errors.slice(0, 3) })}`);
  }
  const rssGrowthMiB = peakRssMiB - memory.startMiB;
  return { rows, bytes, seconds, uploadSeconds, rowsPerSecond: rows / seconds, peakRssMiB, rssGrowthMiB, peakHeapMiB };
}

/**
 * One size: ceiling, 100-parameter form and import back to back, `REPS` times (3 below 1M rows),
 * each time with fresh ids, then the ceiling once more; the report uses medians, so one slow
 * moment on a shared machine moves neither side much.
 */
async function measureSize(servers, results, rows) {
  // Small sizes take well under a second, where one slow moment of a shared machine weighs most.
  const reps = Number(process.env.BENCH_REPS ?? (rows >= 1_000_000 ? 1 : rows <= 10_000 ? 5 : 3));
  const samples = { json: [], params: [], imports: [] };
  const ceiling = async (rep) => {
    samples.json.push(await baselineRun(servers.json, "json", rows, `json_${rows}_${rep}`));
    log(`ceiling ${rows} #${rep}: ${samples.json.at(-1).seconds.toFixed(2)} s`);
  };
  for (let rep = 0; rep < reps; rep++) {
    await ceiling(rep);
    samples.params.push(await baselineRun(servers.params, "params", rows, `params_${rows}_${rep}`));
    samples.imports.push(await importRun(servers.import, rows, `imp_${rows}_${rep}`));
    log(
      `100-param ${samples.params.at(-1).seconds.toFixed(2)} s; import ${samples.imports.at(-1).seconds.toFixed(2)} s`,
    );
  }
  await ceiling(reps);
  results.baseline.json.push(median(samples.json));
  results.baseline.params.push(median(samples.params));
  results.imports.push(median(samples.imports));
}

/** The median time (the mean of the middle two for an even count), with every sample's time. */
function median(samples) {
  const sorted = [...samples].sort((a, b) => a.seconds - b.seconds);
  const lo = sorted[Math.floor((sorted.length - 1) / 2)];
  const hi = sorted[Math.ceil((sorted.length - 1) / 2)];
  const seconds = (lo.seconds + hi.seconds) / 2;
  const peakRssMiB = Math.max(...samples.map((r) => r.peakRssMiB));
  const peakHeapMiB = Math.max(...samples.map((r) => r.peakHeapMiB ?? 0));
  const rssGrowthMiB = Math.max(...samples.map((r) => r.rssGrowthMiB));
  return {
    ...lo,
    seconds,
    rowsPerSecond: lo.rows / seconds,
    samples: sorted.map((r) => r.seconds),
    peakRssMiB,
    rssGrowthMiB,
    peakHeapMiB,
  };
}

/**
 * What every import pays whatever its size (the upload request, a queue hop, the job's claim and
 * completion, the poll that sees it): the median time of a 10-row import.
 */
async function fixedCost(server) {
  const times = [];
  for (let rep = 0; rep < 7; rep++) times.push((await importRun(server, 10, `fixed_${rep}`)).seconds);
  return times.sort((a, b) => a - b)[3];
}

/**
 * workerd's RSS growth from the upload alone: the largest file, sent to a fresh server as a JSON
 * import, which is refused over 10 MB before the file is read, so nothing is imported (local R2
 * lives in workerd too). Null when the largest file is smaller than that.
 */
async function uploadOnlyGrowth(rows) {
  if (rows < 200_000) return null;
  const dir = await freshState("import-upload-only");
  const server = await startServer("import-upload-only", dir, { vars: [`ADMIN_API_KEY:${ADMIN_KEY}`] });
  try {
    const file = path.join(TMP_DIR, "upload-only.csv");
    const bytes = writeCsv(file, "upload_only", rows);
    const memory = rssSampler(server.pgid);
    const job = await waitForJob(server.base, await upload(server.base, file, "json"));
    const peak = memory.stop();
    fs.rmSync(file);
    if (job.status !== "failed" || job.processedRows !== 0) throw new Error(`upload-only job ${JSON.stringify(job)}`);
    return { rows, bytes, growthMiB: peak - memory.startMiB };
  } finally {
    await server.stop();
  }
}

/** Resident memory of a server doing nothing: the floor the import's peak is compared with. */
async function idleRss(server) {
  const sampler = rssSampler(server.pgid);
  await sleep(3000);
  return sampler.stop();
}

/** The Worker's heap on the same idle server (after the warm-up import). */
async function idleHeap(server) {
  const sampler = await startHeapSampler(server.inspectorPort);
  await sleep(3000);
  return sampler.stop();
}

async function main() {
  const facts = await machineFacts();
  const benchStarted = performance.now();
  fs.mkdirSync(TMP_DIR, { recursive: true });
  log("fresh local state for the import and both baselines");
  const dirs = { import: await freshState("import-state") };
  for (const form of FORMS) dirs[form] = await freshState(`import-baseline-${form}`);

  const servers = {};
  /** @type {any} the report's fields, filled in as the runs finish */
  const results = { baseline: { json: [], params: [] }, imports: [] };
  try {
    for (const form of FORMS) {
      servers[form] = await startServer(`import-baseline-${form}`, dirs[form], {
        config: "bench/baseline.wrangler.toml",
      });
    }
    servers.import = await startServer("import", dirs.import, { vars: [`ADMIN_API_KEY:${ADMIN_KEY}`] });
    log("servers up; warming up");
    for (const form of FORMS) await baselineRun(servers[form], form, WARM_UP_ROWS, `warm_${form}`);
    await importRun(servers.import, WARM_UP_ROWS, "warm_import");
    results.idleRssMiB = await idleRss(servers.import);
    results.idleHeapMiB = await idleHeap(servers.import);
    results.ceilingIdleRssMiB = await idleRss(servers.json);
    results.fixedSeconds = await fixedCost(servers.import);
    for (const rows of SIZES) await measureSize(servers, results, rows);
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
  results.uploadOnly = await uploadOnlyGrowth(Math.max(...SIZES));
  // Page use once the servers have stopped: the import's database next to the json baseline's,
  // which holds the same number of contacts written without any other table.
  results.pages = { import: pageUse(dirs.import), json: pageUse(dirs.json) };
  results.benchSeconds = (performance.now() - benchStarted) / 1000;
  results.load = {
    start: facts.load,
    end: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(", "),
  };
  fs.writeFileSync(path.join(TMP_DIR, "import-results.json"), JSON.stringify(results, null, 2));
  const text = report(machineLines(facts), results);
  console.log(text);
  writeSection("import", text);
  const low = results.imports.filter((r) => r.rows >= 100_000 && ratioOf(results, r) < 0.5);
  if (low.length > 0) log(`ratio under 0.5 at ${low.map((r) => r.rows).join(", ")} rows`);
}

export const ratioOf = (results, r) =>
  r.rowsPerSecond / results.baseline.json.find((b) => b.rows === r.rows).rowsPerSecond;

await main();
