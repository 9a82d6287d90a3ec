import { stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createProgress, formatBytes, formatDuration } from "./progress.mjs";
import { formatFromName, uploadFile } from "./upload.mjs";

/** @typedef {import("hogsend-workers/client").components["schemas"]["ImportJob"]} ImportJob */
/** @typedef {import("hogsend-workers/client").components["schemas"]["SuppressionImport"]} SuppressionImport */
/** @typedef {ImportJob | SuppressionImport} AnyJob */

const ENDED = new Set(["completed", "failed", "cancelled"]);
/** Below this much processing time a rate says nothing (a small job can end before the first poll). */
const MIN_RATE_SECONDS = 1;

/**
 * `hogsend import FILE`: upload (with a bar by bytes), follow processing (a bar by bytes read,
 * with rows, rows/s and the ETA), print the summary and write the failed rows next to the file.
 * Answers the process exit code.
 *
 * @param {import("./api.mjs").Client} client
 * With `suppressions` (its options), the file is a suppression list: same upload and progress,
 * the suppression import's job and counts.
 *
 * @param {{ file: string, format?: import("./upload.mjs").ImportFormat, options?: import("./import-options.mjs").ImportOptions,
 *           suppressions?: import("./import-options.mjs").SuppressionImportOptions, allowFailedRows?: boolean, partBytes?: number, concurrency?: number, signal?: AbortSignal,
 *           pollMs?: number, tty: boolean, out?: NodeJS.WritableStream }} options
 */
export async function importCommand(client, options) {
  const { file, tty, out = process.stdout } = options;
  const format = options.format ?? formatFromName(file);
  if (!format) throw new Error(`Can't tell the format of ${file} from its name: pass --format csv|json|ndjson`);
  const { size } = await stat(file);
  if (size === 0) throw new Error(`${file} is empty`);

  const uploadBar = createProgress({
    label: "Upload",
    total: size,
    tty,
    out,
    describe: (value, total) => `${formatBytes(value)} / ${formatBytes(total)}`,
  });
  const uploadStarted = Date.now();
  const started = await uploadFile(client, {
    file,
    size,
    format,
    fileName: path.basename(file),
    options: options.options,
    suppressions: options.suppressions,
    partBytes: options.partBytes,
    concurrency: options.concurrency,
    signal: options.signal,
    onProgress: (sent) => uploadBar.update(sent),
  }).finally(() => uploadBar.stop());
  const uploadSeconds = (Date.now() - uploadStarted) / 1000;
  out.write(`Uploaded ${formatBytes(size)} in ${formatDuration(uploadSeconds)}: job ${started.jobId}\n`);

  const kind = options.suppressions ? "suppressions" : "contacts";
  const job = await followJob(client, started.jobId, {
    tty,
    out,
    pollMs: options.pollMs,
    signal: options.signal,
    kind,
  });
  if (!ENDED.has(job.status)) {
    out.write(
      `Stopped following job ${job.id}: the import goes on in the background (hogsend jobs shows it; hogsend cancel ${job.id} stops it)\n`,
    );
    return 130;
  }
  if ("suppressed" in job) printSuppressionSummary(job, out);
  else printSummary(job, out);
  if (job.failedRows > 0) await writeErrorsCsv(client, job, `${file}.errors.csv`, out);
  if (job.status !== "completed") return 1;
  return job.failedRows > 0 && !options.allowFailedRows ? 1 : 0;
}

/**
 * Rows per second and seconds left: from the job's own timestamps once it ended, else from the
 * progress seen since `first` (clocks of client and server may differ). Undefined where the time
 * is too short to mean anything.
 * @param {AnyJob} job @param {{ at: number, rows: number, bytes: number }} first @param {number} [now]
 */
export function processingPace(job, first, now = Date.now()) {
  const rows = job.processedRows + job.failedRows;
  if (job.startedAt && job.finishedAt) {
    const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
    return { rows, rate: seconds >= MIN_RATE_SECONDS ? rows / seconds : undefined, eta: 0 };
  }
  const seconds = (now - first.at) / 1000;
  if (seconds < MIN_RATE_SECONDS) return { rows, rate: undefined, eta: undefined };
  const bytesPerSecond = (job.bytesProcessed - first.bytes) / seconds;
  const eta = bytesPerSecond > 0 ? (job.bytesTotal - job.bytesProcessed) / bytesPerSecond : undefined;
  return { rows, rate: (rows - first.rows) / seconds, eta };
}

/**
 * @param {import("./api.mjs").Client} client @param {string} jobId @param {"contacts" | "suppressions"} kind
 * @returns {Promise<AnyJob>}
 */
const fetchJob = (client, jobId, kind) =>
  kind === "suppressions"
    ? client.call(client.api.GET("/v1/admin/suppressions/import/{jobId}", { params: { path: { jobId } } }))
    : client.call(client.api.GET("/v1/admin/contacts/import/{jobId}", { params: { path: { jobId } } }));

/**
 * Polls the job until it ends (or `signal` aborts: then the job as last seen), driving the processing bar.
 * @param {import("./api.mjs").Client} client @param {string} jobId
 * @param {{ tty: boolean, out?: NodeJS.WritableStream, pollMs?: number, signal?: AbortSignal,
 *           kind?: "contacts" | "suppressions" }} options
 * @returns {Promise<AnyJob>}
 */
export async function followJob(
  client,
  jobId,
  { tty, out = process.stdout, pollMs = 1000, signal, kind = "contacts" },
) {
  let job = await fetchJob(client, jobId, kind);
  const first = { at: Date.now(), rows: job.processedRows + job.failedRows, bytes: job.bytesProcessed };
  const bar = createProgress({
    label: "Process",
    total: job.bytesTotal,
    tty,
    out,
    describe: () => {
      const { rows, rate, eta } = processingPace(job, first);
      const rateText = rate === undefined ? "" : ` | ${Math.round(rate).toLocaleString("en")} rows/s`;
      return `${rows.toLocaleString("en")} rows${rateText} | ETA ${formatDuration(eta ?? Number.NaN)}`;
    },
  });
  try {
    while (!ENDED.has(job.status)) {
      bar.update(job.bytesProcessed, job.bytesTotal);
      const interrupted = await sleep(pollMs, undefined, { signal }).then(
        () => false,
        () => true,
      );
      if (interrupted) return job;
      job = await fetchJob(client, jobId, kind);
    }
    bar.update(job.status === "completed" ? job.bytesTotal : job.bytesProcessed, job.bytesTotal);
  } finally {
    bar.stop();
  }
  return job;
}

/** @param {ImportJob} job @param {NodeJS.WritableStream} [out] */
export function printSummary(job, out = process.stdout) {
  const lines = [
    `Job ${job.id}: ${job.status}`,
    `  rows: ${job.totalRows ?? "?"} in the file, ${job.processedRows} imported, ${job.failedRows} failed`,
  ];
  if (job.startedAt && job.finishedAt) {
    const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
    const rows = job.processedRows + job.failedRows;
    const rate = seconds >= MIN_RATE_SECONDS ? ` (${Math.round(rows / seconds).toLocaleString("en")} rows/s)` : "";
    lines.push(`  processing: ${formatDuration(seconds)}${rate}`);
  }
  if (job.dryRun) {
    lines.push(`  dry run: nothing written; ${job.wouldCreate} contacts would be created, ${job.wouldUpdate} updated`);
  }
  if (job.error) lines.push(`  error: ${job.error}`);
  for (const e of (job.errors ?? []).slice(0, 5)) lines.push(`  row ${e.row}: ${e.error}`);
  if (job.failedRows > 5) lines.push(`  … and ${job.failedRows - 5} more`);
  out.write(`${lines.join("\n")}\n`);
}

/** @param {SuppressionImport} job @param {NodeJS.WritableStream} [out] */
export function printSuppressionSummary(job, out = process.stdout) {
  const would = job.dryRun ? " (dry run: nothing written; counts are what would happen)" : "";
  const lines = [
    `Job ${job.id}: ${job.status}${would}`,
    `  rows: ${job.totalRows ?? "?"} in the file, ${job.suppressed} suppressed, ${job.alreadySuppressed} already suppressed, ${job.invalid} invalid`,
  ];
  if (job.error) lines.push(`  error: ${job.error}`);
  for (const e of (job.errors ?? []).slice(0, 5)) lines.push(`  row ${e.row}: ${e.error}`);
  if (job.invalid > 5) lines.push(`  … and ${job.invalid - 5} more`);
  out.write(`${lines.join("\n")}\n`);
}

/**
 * @param {import("./api.mjs").Client} client @param {AnyJob} job @param {string} target
 * @param {NodeJS.WritableStream} out
 */
async function writeErrorsCsv(client, job, target, out) {
  const request = { params: { path: { jobId: job.id } }, parseAs: /** @type {const} */ ("arrayBuffer") };
  const csv = await client.call(
    "suppressed" in job
      ? client.api.GET("/v1/admin/suppressions/import/{jobId}/errors.csv", request)
      : client.api.GET("/v1/admin/contacts/import/{jobId}/errors.csv", request),
  );
  await writeFile(target, Buffer.from(csv));
  const capped =
    job.failedRows > (job.errors?.length ?? 0) ? ` (the first ${job.errors.length} of ${job.failedRows})` : "";
  out.write(`Failed rows written to ${target}${capped}\n`);
}
