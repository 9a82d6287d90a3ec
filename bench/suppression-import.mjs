// Suppression import benchmark (issue 29): a CSV of N addresses (default 1,000,000) through the
// real raw-upload route, the import queue and D1 in `wrangler dev` (127.0.0.1, fresh state),
// against the same run's ceiling: the same addresses inserted straight into the suppression list
// by the bench-only Worker (bench/baseline-worker.js, ?form=suppressions), one json_each statement
// per 256 KB parameter. Ceiling, import, ceiling again; the ratio uses the ceiling's median.
//
//   npm run bench:suppressions                 # 1,000,000 addresses
//   BENCH_SIZES=100000 npm run bench:suppressions
import fs from "node:fs";
import path from "node:path";
import { assertNode22, TMP_DIR } from "./lib/dev-server.mjs";
import { ADMIN_KEY, freshState, log, startServer, upload, waitForJob } from "./lib/import-server.mjs";
import { machineFacts, machineLines, writeSection } from "./lib/results.mjs";

assertNode22();
const SIZES = (process.env.BENCH_SIZES ?? "1000000").split(",").map(Number);

function writeList(file, prefix, rows) {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "address,reason\n");
  let buf = [];
  for (let i = 0; i < rows; i++) {
    buf.push(`${prefix}.${i}@example.com,${i % 7 === 0 ? "complaint" : "hard_bounce"}\n`);
    if (buf.length === 10_000) {
      fs.writeSync(fd, buf.join(""));
      buf = [];
    }
  }
  fs.writeSync(fd, buf.join(""));
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

const ROUTE = "/v1/admin/suppressions/import";

async function ceiling(server, rows, prefix) {
  const started = performance.now();
  const res = await fetch(`${server.base}/?form=suppressions&rows=${rows}&prefix=${prefix}`, {
    signal: AbortSignal.timeout(10 * 60_000),
  });
  const body = await res.json();
  if (body.inserted !== rows) throw new Error(`ceiling inserted ${body.inserted} of ${rows}`);
  return (performance.now() - started) / 1000;
}

async function importRun(server, rows, prefix) {
  const file = path.join(TMP_DIR, `suppressions-${rows}.csv`);
  const bytes = writeList(file, prefix, rows);
  const started = performance.now();
  const job = await waitForJob(server.base, await upload(server.base, file, "csv", ROUTE), { route: ROUTE });
  const seconds = (performance.now() - started) / 1000;
  fs.rmSync(file);
  if (job.status !== "completed" || job.suppressed !== rows) throw new Error(`import ended ${JSON.stringify(job)}`);
  return { seconds, bytes };
}

async function main() {
  const facts = await machineFacts();
  fs.mkdirSync(TMP_DIR, { recursive: true });
  const dirs = { import: await freshState("supp-import"), ceiling: await freshState("supp-ceiling") };
  const servers = {};
  const lines = [];
  try {
    servers.ceiling = await startServer("supp-ceiling", dirs.ceiling, { config: "bench/baseline.wrangler.toml" });
    servers.import = await startServer("supp-import", dirs.import, { vars: [`ADMIN_API_KEY:${ADMIN_KEY}`] });
    await ceiling(servers.ceiling, 2000, "warm");
    await importRun(servers.import, 2000, "warm");
    for (const rows of SIZES) {
      const before = await ceiling(servers.ceiling, rows, `c1_${rows}`);
      log(`ceiling ${rows}: ${before.toFixed(2)} s`);
      const run = await importRun(servers.import, rows, `imp_${rows}`);
      log(`import ${rows}: ${run.seconds.toFixed(2)} s`);
      const after = await ceiling(servers.ceiling, rows, `c2_${rows}`);
      log(`ceiling ${rows} again: ${after.toFixed(2)} s`);
      const ceilingSeconds = (before + after) / 2;
      lines.push(
        `| ${rows.toLocaleString("en")} | ${(run.bytes / 1e6).toFixed(1)} MB | ${run.seconds.toFixed(2)} s | ${Math.round(rows / run.seconds).toLocaleString("en")} | ${before.toFixed(2)} / ${after.toFixed(2)} s | ${Math.round(rows / ceilingSeconds).toLocaleString("en")} | **${(ceilingSeconds / run.seconds).toFixed(2)}** |`,
      );
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
  const text = [
    "## Suppression import (`npm run bench:suppressions`)",
    "",
    machineLines(facts),
    "",
    "A CSV of `address,reason` through `POST /v1/admin/suppressions/import` (raw body), the queue and the",
    "chunked commit, timed from the upload to the poll that sees `completed`; the ceiling is the same",
    "addresses inserted by a bench Worker in one request, one `json_each` statement per 256 KB parameter",
    "(`ON CONFLICT DO NOTHING`), run before and after the import on its own fresh database.",
    "",
    "| addresses | file | import | addresses/s | ceiling (before / after) | ceiling addresses/s | import / ceiling |",
    "|---|---|---|---|---|---|---|",
    ...lines,
  ].join("\n");
  console.log(text);
  writeSection("suppression-import", text);
}

await main();
