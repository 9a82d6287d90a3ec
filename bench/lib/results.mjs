// Machine facts and the per-bench section of bench/RESULTS.md.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, wrangler } from "./dev-server.mjs";

export const RESULTS_FILE = path.join(ROOT, "bench", "RESULTS.md");

const HEADER = `# Benchmark results

Written by \`npm run bench\` (each bench replaces only its own section, between its markers).
Every run starts its own \`wrangler dev\` on 127.0.0.1 with fresh local state under \`bench/.tmp/\`.
Machines are shared and noisy: compare ratios against the same-run baseline, not absolute numbers
across runs or machines.
`;

function cpuModel() {
  const line = readFileSync("/proc/cpuinfo", "utf8")
    .split("\n")
    .find((l) => l.startsWith("model name"));
  return line ? line.split(":")[1].trim() : (os.cpus()[0]?.model ?? "unknown");
}

function gitHead() {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "migrations", "wrangler.toml"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    return dirty ? `${sha} (+ uncommitted changes in src/)` : sha;
  } catch {
    return "unknown";
  }
}

export async function machineFacts() {
  const wranglerVersion = (await wrangler(["--version"])).trim().split("\n").pop();
  const autocannonVersion = JSON.parse(
    readFileSync(path.join(ROOT, "node_modules", "autocannon", "package.json"), "utf8"),
  ).version;
  return {
    date: new Date().toISOString(),
    uname: execFileSync("uname", ["-srm"], { encoding: "utf8" }).trim(),
    cpu: cpuModel(),
    nproc: os.availableParallelism(),
    memGiB: (os.totalmem() / 1024 ** 3).toFixed(1),
    node: process.version,
    wrangler: wranglerVersion,
    autocannon: autocannonVersion,
    commit: gitHead(),
    load: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(", "),
  };
}

export function machineLines(m) {
  return [
    `- Date: ${m.date}`,
    `- Machine: \`${m.uname}\`, ${m.cpu}, ${m.nproc} CPUs (shared with the load generator), ${m.memGiB} GiB RAM; load average at start ${m.load}`,
    `- Node ${m.node}, wrangler ${m.wrangler}, autocannon ${m.autocannon}; code at commit ${m.commit}`,
  ].join("\n");
}

/** A markdown table from a header row and data rows. */
export function table(head, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Replaces (or appends) the `name` section of RESULTS.md, creating the file when missing. */
export function writeSection(name, body) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  let text = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, "utf8") : HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from !== -1 && to > from) {
    text = text.slice(0, from) + section + text.slice(to + end.length);
  } else {
    text = `${text.trimEnd()}\n\n${section}\n`;
  }
  writeFileSync(RESULTS_FILE, text);
  console.log(`bench: wrote the ${name} section of ${path.relative(ROOT, RESULTS_FILE)}`);
}

export const fmt = {
  int: (n) => Math.round(n).toLocaleString("en-US"),
  ms: (n) => (n >= 100 ? Math.round(n).toString() : n.toFixed(1)),
  ratio: (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a"),
  mib: (kib) => `${(kib / 1024).toFixed(0)} MiB`,
};
