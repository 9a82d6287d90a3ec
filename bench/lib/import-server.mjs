// Servers, files and measurements shared by the import benches (bench/import.mjs,
// bench/import-crash.mjs): `wrangler dev` on 127.0.0.1 with a given persist dir, stopped by
// process group; the bench CSV; a job poller; workerd RSS; the local SQLite file's page use.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  freePort,
  processesInGroup,
  ROOT,
  sleep,
  TMP_DIR,
  WRANGLER_ENV,
  workerdPids,
  wrangler,
} from "./dev-server.mjs";

export const ADMIN_KEY = "bench-admin-key";
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const PLANS = ["free", "pro", "team"];
const SOURCES = ["ads", "organic", "referral", "partner"];
const running = new Set();
const killAll = () => {
  for (const pgid of running) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
};
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    killAll();
    process.exit(1);
  });
}

export const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

/** A fresh persist dir with the migrations applied. */
export async function freshState(name) {
  const dir = path.join(TMP_DIR, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]);
  return dir;
}

/** `wrangler dev` on a free loopback port; `config` picks the bench-only baseline Worker. */
/** @param {string} name @param {string} persistTo @param {{ config?: string, vars?: string[] }} [options] */
export async function startServer(name, persistTo, { config, vars = [] } = {}) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const logFile = path.join(TMP_DIR, `${name}.wrangler.log`);
  const fd = fs.openSync(logFile, "a");
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-ip", "127.0.0.1"];
  args.push(
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
  );
  args.push("--live-reload=false", "--test-scheduled", ...(config ? ["-c", config] : []));
  // Benches measure capacity; the rate limiters (per IP, all 127.0.0.1 here) would measure the policy.
  for (const v of ["RATE_LIMITS:off", ...vars]) args.push("--var", v);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env: WRANGLER_ENV, detached: true, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  running.add(child.pid);
  const base = `http://127.0.0.1:${port}`;
  const probe = config ? "/" : "/v1/health";
  for (let i = 0; i < 360; i++) {
    try {
      const res = await fetch(`${base}${probe}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return { base, pgid: child.pid, inspectorPort, stop: () => stopGroup(child.pid) };
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  await stopGroup(child.pid);
  throw new Error(`wrangler dev (${name}) did not come up; see ${logFile}`);
}

/** SIGTERM (or SIGKILL: a crash) to the whole group, then wait until no member is left. */
export async function stopGroup(pgid, signal = "SIGTERM") {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
  const deadline = Date.now() + 15_000;
  while (processesInGroup(pgid).length > 0) {
    if (Date.now() > deadline) process.kill(-pgid, "SIGKILL");
    await sleep(100);
  }
  running.delete(pgid);
}

/** A CSV of `rows` contacts, written in pieces (1M rows is ~70 MB). */
export function writeCsv(file, prefix, rows, { repeatEvery = 0, repeatDistance = 0 } = {}) {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "externalId,email,plan,company,source\n");
  let buf = [];
  for (let i = 0; i < rows; i++) {
    // With repeatEvery, every n-th row from repeatDistance on repeats the id of the row
    // repeatDistance - 1 rows earlier (a "Duplicate externalId" row, usually in an earlier chunk).
    const id = isRepeat(i, repeatEvery, repeatDistance) ? i - repeatDistance + 1 : i;
    buf.push(`${prefix}_${id},${prefix}.${id}@example.com,${PLANS[i % 3]},Company ${i % 1000},${SOURCES[i % 4]}\n`);
    if (buf.length === 10_000) {
      fs.writeSync(fd, buf.join(""));
      buf = [];
    }
  }
  fs.writeSync(fd, buf.join(""));
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

export const isRepeat = (i, every, distance) => every > 0 && i >= distance && i % every === 0;

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

/**
 * Streams the file as the raw body. node:http, not fetch: undici's fetch took ~10x longer than curl
 * to send a 7 MB body to wrangler dev on this machine, which would have been timed as import.
 */
export function upload(base, file, format = "csv", route = "/v1/admin/contacts/import") {
  const url = new URL(`${base}${route}?format=${format}&fileName=${path.basename(file)}`);
  const headers = { ...auth, "content-type": "text/csv", "content-length": String(fs.statSync(file).size) };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (piece) => {
        text += piece;
      });
      res.on("end", () => {
        if (res.statusCode !== 202) reject(new Error(`upload answered ${res.statusCode}: ${text}`));
        else resolve(JSON.parse(text).jobId);
      });
    });
    req.on("error", reject);
    fs.createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
}

export async function jobStatus(base, jobId, route = "/v1/admin/contacts/import") {
  const res = await fetch(`${base}${route}/${jobId}`, { headers: auth });
  return res.json();
}

/** Polls until the job leaves pending/processing (every `everyMs`, so the end is seen within it). */
/**
 * @param {string} base @param {string} jobId
 * @param {{ everyMs?: number, timeoutMs?: number, onProgress?: (job: any) => void, route?: string }} [options]
 */
export async function waitForJob(base, jobId, { everyMs = 5, timeoutMs = 30 * 60_000, onProgress, route } = {}) {
  const started = performance.now();
  for (;;) {
    const job = await jobStatus(base, jobId, route);
    if (!["pending", "processing"].includes(job.status)) return job;
    if (performance.now() - started > timeoutMs) throw new Error(`job timed out: ${JSON.stringify(job)}`);
    onProgress?.(job);
    await sleep(everyMs);
  }
}

/**
 * Summed VmRSS of the group's workerd processes, sampled every 50 ms: `startMiB` when it began,
 * `stop()` returns the peak (MiB). The pids are listed once (walking /proc every 50 ms would load
 * the machine being measured).
 */
export function rssSampler(pgid) {
  let peakKiB = 0;
  const pids = workerdPids(pgid);
  const sample = () => {
    let total = 0;
    for (const pid of pids) {
      try {
        total += Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
      } catch {
        // exited
      }
    }
    peakKiB = Math.max(peakKiB, total);
    return total;
  };
  const startMiB = sample() / 1024;
  const timer = setInterval(sample, 50);
  return {
    startMiB,
    stop() {
      clearInterval(timer);
      sample();
      return peakKiB / 1024;
    },
  };
}

/** The local D1's SQLite file under a (stopped) server's persist dir: the biggest .sqlite there. */
function sqliteFile(persistTo) {
  const dir = path.join(persistTo, "v3", "d1");
  const files = fs
    .readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => f.endsWith(".sqlite"));
  return files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
}

/** Page use of the stopped server's database: file size, free pages, bytes per contact, per table. */
export function pageUse(persistTo) {
  const file = sqliteFile(persistTo);
  const db = new DatabaseSync(file);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  /** @param {string} q @returns {number} */
  const one = (q) => Number(Object.values(db.prepare(q).get() ?? {})[0]);
  const pageSize = one("PRAGMA page_size");
  const pages = one("PRAGMA page_count");
  const free = one("PRAGMA freelist_count");
  const contacts = one("SELECT count(*) FROM contacts");
  const byTable = db
    .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 6")
    .all()
    .map((r) => ({ name: r.name, bytes: r.bytes }));
  db.close();
  const bytes = fs.statSync(file).size;
  return {
    bytes,
    pageSize,
    pages,
    free,
    freeShare: free / pages,
    contacts,
    bytesPerContact: bytes / contacts,
    byTable,
  };
}
