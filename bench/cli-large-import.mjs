// The CLI against a real `wrangler dev`: a ~120 MB CSV (over the 100 MB request limit) imported as
// ONE job through `hogsend import` (multipart upload), checked row for row, then exported back with
// `hogsend export --out` past the 10,000-row page limit.
//
// Baselines, same run, same server: the fastest known way to do each step without the CLI.
//   upload     a single streamed raw request (the pre-existing path; at most 100 MB, so a slice)
//   processing the same pipeline's rows/s on that single-request job
//   export     following X-Next-Cursor with plain fetch and NDJSON pages, counting lines only
//
// npm run bench:cli-import [-- --mb 120]
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { parse } from "csv-parse";
import { assertNode22, ROOT, sleep, TMP_DIR, withDevServer } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();
const { values } = parseArgs({ options: { mb: { type: "string", default: "120" } } });
const TARGET_BYTES = Number(values.mb) * 1000 * 1000;
const BASELINE_BYTES = 24 * 1000 * 1000;
const HEADER = "externalId,email,first_name,last_name,company,plan,seats,country,optin_time,notes\n";
const ADMIN_KEY = "dev-admin-key";

/** Mailchimp-like wide rows (~330 bytes); the baseline file is the first rows of the big one. */
function row(i) {
  const note = `customer since ${2015 + (i % 10)}; segment ${i % 17}; `.padEnd(180, "lorem ipsum dolor sit amet ");
  return `bench_${i},user${i}@example.com,First${i % 997},Last${i % 991},Company ${i % 5003},${i % 3 ? "pro" : "free"},${i % 50},${["US", "DE", "FR", "BR", "IN"][i % 5]},2021-0${(i % 9) + 1}-15T10:00:00Z,"${note}"\n`;
}

async function writeCsv(file, maxBytes) {
  const out = createWriteStream(file);
  let bytes = HEADER.length;
  let rows = 0;
  out.write(HEADER);
  let buffer = "";
  while (bytes < maxBytes) {
    const line = row(rows);
    buffer += line;
    bytes += line.length;
    rows += 1;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await new Promise((resolve) => out.once("drain", () => resolve(undefined)));
      buffer = "";
    }
  }
  out.end(buffer);
  await finished(out);
  return { rows, bytes: statSync(file).size };
}

const api = (baseUrl, p, init = {}) =>
  fetch(`${baseUrl}${p}`, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(init.headers ?? {}) } });

async function waitForJob(baseUrl, jobId) {
  for (;;) {
    const job = await (await api(baseUrl, `/v1/admin/contacts/import/${jobId}`)).json();
    if (["completed", "failed", "cancelled"].includes(job.status)) return job;
    await sleep(1000);
  }
}

const seconds = (job) => (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;

async function baselineImport(baseUrl, file, bytes) {
  const began = performance.now();
  const res = await api(baseUrl, "/v1/admin/contacts/import?format=csv&fileName=baseline.csv", {
    method: "POST",
    headers: { "content-type": "text/csv", "content-length": String(bytes) },
    body: Readable.toWeb(createReadStream(file)),
    duplex: "half",
  });
  const uploadSeconds = (performance.now() - began) / 1000;
  if (res.status !== 202) throw new Error(`baseline upload answered ${res.status}: ${await res.text()}`);
  const job = await waitForJob(baseUrl, (await res.json()).jobId);
  return { uploadSeconds, job };
}

/** Runs the CLI like a user would (stdout not a TTY: plain progress lines), timing its phases. */
function runCli(baseUrl, args) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    let uploadedAt = null;
    let output = "";
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "hogsend.mjs"), ...args], {
      env: { ...process.env, HOGSEND_URL: baseUrl, HOGSEND_ADMIN_KEY: ADMIN_KEY },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const take = (chunk) => {
      output += chunk;
      if (uploadedAt === null && output.includes("Uploaded ")) uploadedAt = performance.now();
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("exit", (code) => {
      const total = (performance.now() - began) / 1000;
      resolve({ code, output, total, upload: uploadedAt === null ? null : (uploadedAt - began) / 1000 });
    });
  });
}

async function baselineExport(baseUrl) {
  const began = performance.now();
  let rows = 0;
  let cursor = "";
  do {
    const res = await api(
      baseUrl,
      `/v1/admin/contacts/export?format=ndjson&limit=10000${cursor ? `&cursor=${cursor}` : ""}`,
    );
    cursor = res.headers.get("x-next-cursor") ?? "";
    const text = await res.text();
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) rows += 1;
  } while (cursor);
  return { rows, seconds: (performance.now() - began) / 1000 };
}

async function countCsvRows(file) {
  let rows = -1; // the header
  for await (const _ of createReadStream(file).pipe(parse())) rows += 1;
  return rows;
}

async function main() {
  mkdirSync(TMP_DIR, { recursive: true });
  const bigFile = path.join(TMP_DIR, "cli-large.csv");
  const baseFile = path.join(TMP_DIR, "cli-baseline.csv");
  const big = await writeCsv(bigFile, TARGET_BYTES);
  const base = await writeCsv(baseFile, BASELINE_BYTES);
  console.log(`bench: ${fmt.int(big.rows)} rows, ${fmt.int(big.bytes)} bytes; baseline ${fmt.int(base.rows)} rows`);
  const facts = await machineFacts();

  const results = await withDevServer("cli-import", async ({ baseUrl }) => {
    const baseline = await baselineImport(baseUrl, baseFile, base.bytes);
    console.log(`bench: baseline job ${baseline.job.status}, ${baseline.job.processedRows} rows`);
    const cli = await runCli(baseUrl, ["import", bigFile]);
    process.stdout.write(cli.output.split("\n").slice(-6).join("\n"));
    const jobId = cli.output.match(/job ([0-9a-f-]{36})/)?.[1];
    const job = jobId ? await (await api(baseUrl, `/v1/admin/contacts/import/${jobId}`)).json() : null;
    const rawExport = await baselineExport(baseUrl);
    const outFile = path.join(TMP_DIR, "cli-all.csv");
    const cliExport = await runCli(baseUrl, ["export", "--out", outFile]);
    const exportedRows = await countCsvRows(outFile);
    const { imports } = await (await api(baseUrl, "/v1/admin/contacts/imports")).json();
    return { baseline, cli, job, rawExport, cliExport, exportedRows, jobs: imports.length };
  });
  report(facts, big, base, results);
}

function report(facts, big, base, r) {
  const checks = {
    "CLI import exit code 0": r.cli.code === 0,
    "one job (besides the baseline's), completed": r.jobs === 2 && r.job?.status === "completed",
    [`totalRows = processedRows = ${big.rows}`]: r.job?.totalRows === big.rows && r.job?.processedRows === big.rows,
    "no failed rows": r.job?.failedRows === 0,
    [`bytesTotal = ${big.bytes}`]: r.job?.bytesTotal === big.bytes,
    "CLI export exit code 0": r.cliExport.code === 0,
    [`export CSV has every contact (${big.rows})`]: r.exportedRows === big.rows,
  };
  const mbps = (bytes, s) => bytes / 1e6 / s;
  const baseUploadRate = mbps(base.bytes, r.baseline.uploadSeconds);
  const cliUploadRate = mbps(big.bytes, r.cli.upload);
  const baseRows = r.baseline.job.processedRows / seconds(r.baseline.job);
  const cliRows = r.job ? r.job.processedRows / seconds(r.job) : Number.NaN;
  const body = [
    "## CLI: a file over 100 MB through `hogsend import` (`npm run bench:cli-import`)",
    "",
    machineLines(facts),
    `- File: ${fmt.int(big.bytes)} bytes, ${fmt.int(big.rows)} CSV rows (10 columns); baseline: its first ${fmt.int(base.rows)} rows (${fmt.int(base.bytes)} bytes)`,
    "",
    table(
      ["step", "baseline (same run)", "CLI", "CLI ÷ baseline"],
      [
        [
          "upload, MB/s",
          `${baseUploadRate.toFixed(1)} (one raw request)`,
          `${cliUploadRate.toFixed(1)} (multipart, 64 MiB parts, 3 at once)`,
          fmt.ratio(cliUploadRate / baseUploadRate),
        ],
        [
          "processing, rows/s",
          `${fmt.int(baseRows)} (raw-upload job)`,
          `${fmt.int(cliRows)} (multipart job)`,
          fmt.ratio(cliRows / baseRows),
        ],
        [
          "export, s",
          `${r.rawExport.seconds.toFixed(1)} (NDJSON pages, lines counted)`,
          `${r.cliExport.total.toFixed(1)} (\`export --out all.csv\`)`,
          fmt.ratio(r.cliExport.total / r.rawExport.seconds),
        ],
      ],
    ),
    "",
    `CLI import wall time: ${r.cli.total.toFixed(1)} s (upload ${r.cli.upload?.toFixed(1)} s). Checks:`,
    "",
    ...Object.entries(checks).map(([name, ok]) => `- ${ok ? "✅" : "❌"} ${name}`),
  ].join("\n");
  writeSection("cli-import", body);
  console.log(body);
  if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
}

await main();
