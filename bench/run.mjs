// `npm run bench`: every bench in sequence, each through its own npm script (so each gets the
// project's Node and its own dev server). A failing bench doesn't stop the others; the exit code
// says whether all passed. Add a bench by adding its npm script name here.
import { spawnSync } from "node:child_process";

const BENCHES = [
  "bench:ingest",
  "bench:posthog",
  "bench:recovery",
  "bench:import",
  "bench:cli-import",
  "bench:backfill",
  "bench:retention",
  "bench:capacity",
];

const PER_BENCH_TIMEOUT_MS = 15 * 60_000; // a backstop: each bench bounds its own phases

const outcomes = [];
for (const name of BENCHES) {
  const started = Date.now();
  const result = spawnSync("npm", ["run", name], {
    stdio: "inherit",
    timeout: PER_BENCH_TIMEOUT_MS,
    killSignal: "SIGTERM",
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  const ok = result.status === 0;
  outcomes.push({
    name,
    ok,
    seconds,
    why: result.error ? String(result.error) : (result.signal ?? `exit ${result.status}`),
  });
}

console.log("\nbench summary:");
for (const o of outcomes)
  console.log(`  ${o.ok ? "ok  " : "FAIL"} ${o.name} (${o.seconds} s)${o.ok ? "" : ` — ${o.why}`}`);
console.log("  results: bench/RESULTS.md");
if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
