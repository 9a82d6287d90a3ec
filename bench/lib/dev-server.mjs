// Starts `wrangler dev` for a benchmark: loopback only, free ports, its own fresh local state
// (migrated first), stopped by process group so workerd never outlives the bench.
//
// Why a process group: `wrangler` spawns workerd as a child; killing wrangler alone (or the npx
// wrapper) can leave workerd serving. The child is spawned detached (setsid), so its pid is the
// group id, and stop() signals the whole group, then waits until no member is left.
import { execFile, spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const TMP_DIR = path.join(ROOT, "bench", ".tmp");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

/** Offline, no telemetry, no prompts. */
export const WRANGLER_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  CI: "true",
};

const HOST = "127.0.0.1";

/** Wrangler 4 needs Node >= 22.12; the project brings it through npm (`npm run bench`). */
export function assertNode22() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    console.error(
      `Node ${process.versions.node} is too old: run benches through npm (npm run bench), which uses the project's Node 22.`,
    );
    process.exit(1);
  }
}

/** A port the OS says is free on the loopback interface right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

// ---- process-group bookkeeping: a crashed or interrupted bench still stops its servers ----

const running = new Set(); // process group ids of servers not yet stopped

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if (error.code === "ESRCH") return false; // group already gone
    throw error;
  }
}

let handlersInstalled = false;
function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' runs on normal exit, process.exit() and uncaught errors; it can't wait, so SIGKILL.
  process.on("exit", () => {
    for (const pgid of running) signalGroup(pgid, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping dev servers`);
      for (const pgid of running) signalGroup(pgid, "SIGKILL");
      running.clear();
      process.exit(128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal]);
    });
  }
}

/** Every process whose process group is `pgid`, with its command name, read from /proc. */
export function processesInGroup(pgid) {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we were listing: not ours to report
    }
    // "pid (comm) state ppid pgrp ..." — comm may hold spaces or parens, so split at the last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const [, , pgrp] = stat.slice(close + 2).split(" ");
    if (Number(pgrp) === pgid) found.push({ pid: Number(entry), comm });
  }
  return found;
}

/** workerd processes of a dev server's process group. */
export function workerdPids(pgid) {
  return processesInGroup(pgid)
    .filter((p) => p.comm.startsWith("workerd"))
    .map((p) => p.pid);
}

/** Resident memory of a process in KiB: current (VmRSS) and peak (VmHWM); null if it is gone. */
export function sampleRss(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { pid, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/**
 * Samples the workerd processes of a group every `intervalMs` until stop() is called; returns the
 * highest summed VmRSS seen and the last VmHWM per process (the kernel's own peak).
 */
export function startRssSampler(pgid, { intervalMs = 500 } = {}) {
  let peakRssKiB = 0;
  const hwm = new Map();
  const sample = () => {
    let total = 0;
    for (const pid of workerdPids(pgid)) {
      const s = sampleRss(pid);
      if (!s) continue;
      total += s.rssKiB;
      hwm.set(pid, s.hwmKiB);
    }
    peakRssKiB = Math.max(peakRssKiB, total);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakRssKiB, hwmKiB: [...hwm.values()].reduce((a, b) => a + b, 0), processes: hwm.size };
    },
  };
}

// ---- the server ----

function ensureDevVars() {
  const devVars = path.join(ROOT, ".dev.vars");
  if (!existsSync(devVars)) {
    copyFileSync(path.join(ROOT, ".dev.vars.example"), devVars);
    console.log("bench: created .dev.vars from .dev.vars.example");
  }
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Runs a wrangler subcommand to completion (bounded), returning stdout. */
export async function wrangler(args, { timeoutMs = 120_000, maxBuffer = 256 * 1024 * 1024 } = {}) {
  const { stdout } = await execFileAsync(WRANGLER, args, {
    cwd: ROOT,
    env: WRANGLER_ENV,
    timeout: timeoutMs,
    maxBuffer,
  });
  return stdout;
}

/**
 * Runs SQL against a (stopped) bench server's local D1 and returns the rows.
 * Safe to call only while no dev server uses that persist dir.
 */
export async function d1Query(persistTo, sql) {
  const out = await wrangler(["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql]);
  const parsed = JSON.parse(out.slice(out.indexOf("[")));
  return parsed[0].results;
}

/**
 * Starts a dev server with fresh state under bench/.tmp/<name> (or `tmpDir`/<name>).
 * Returns { baseUrl, pid, pgid, persistTo, logFile, stop() }. `config`: another wrangler config
 * (e.g. one a bench derived from wrangler.toml) instead of the project's. `port`: that port
 * instead of a free one. `envFile`: the secrets from that file instead of `.dev.vars`.
 * `rateLimits`: keep the rate limiters on (benches turn them off). `vars`: `--var` overrides.
 * @param {string} name @param {{ readyTimeoutMs?: number, config?: string, testScheduled?: boolean, port?: number, tmpDir?: string, envFile?: string, rateLimits?: boolean, vars?: Record<string, string> }} [options]
 */
export async function startDevServer(
  name,
  {
    readyTimeoutMs = 90_000,
    config,
    testScheduled = false,
    port: fixedPort,
    tmpDir = TMP_DIR,
    envFile,
    rateLimits = false,
    vars = {},
  } = {},
) {
  installExitHandlers();
  if (!envFile) ensureDevVars();

  const persistTo = path.join(tmpDir, name);
  rmSync(persistTo, { recursive: true, force: true });
  mkdirSync(persistTo, { recursive: true });
  const logFile = path.join(tmpDir, `${name}.wrangler.log`);

  const configArgs = config ? ["--config", config] : [];
  await wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo, ...configArgs]);

  const port = fixedPort ?? (await freePort());
  const inspectorPort = await freePort();
  const logFd = openSync(logFile, "w");
  const child = spawn(
    WRANGLER,
    [
      "dev",
      "--ip",
      HOST,
      "--port",
      String(port),
      "--inspector-ip",
      HOST,
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persistTo,
      "--show-interactive-dev-session=false",
      "--live-reload=false",
      ...configArgs,
      ...(envFile ? ["--env-file", envFile] : []),
      // Benches measure capacity; the rate limiters (per IP, all 127.0.0.1 here) would measure the policy.
      ...(rateLimits ? [] : ["--var", "RATE_LIMITS:off"]),
      ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      // Serves /__scheduled, for benches that run the cron on demand.
      ...(testScheduled ? ["--test-scheduled"] : []),
    ],
    { cwd: ROOT, env: WRANGLER_ENV, detached: true, stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  const pgid = child.pid;
  running.add(pgid);

  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
  });

  const baseUrl = `http://${HOST}:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    signalGroup(pgid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (processesInGroup(pgid).length > 0 && Date.now() < deadline) await sleep(100);
    if (processesInGroup(pgid).length > 0) {
      signalGroup(pgid, "SIGKILL");
      while (processesInGroup(pgid).length > 0) await sleep(50);
    }
    running.delete(pgid);
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) {
      running.delete(pgid);
      throw new Error(`wrangler dev exited before it was ready (${JSON.stringify(exited)}):\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
      await res.arrayBuffer();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev not healthy within ${readyTimeoutMs} ms:\n${tail(logFile)}`);
    }
    await sleep(250);
  }

  return { baseUrl, pid: child.pid, pgid, persistTo, logFile, stop };
}

/** Runs `fn(server)` against a fresh dev server and always stops it. */
export async function withDevServer(name, fn, options) {
  const server = await startDevServer(name, options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
