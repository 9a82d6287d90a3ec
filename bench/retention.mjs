// Retention (issue 14): does archiving old events slow ingest down? Ingest latency while the cron
// archives continuously, against the same-run baseline of ingest latency with no cron running;
// plus the archive rate the cron reached.
//
//   npm run bench:retention            (BENCH_OLD_EVENTS=<events to archive>, default 10000)
import { readFileSync } from "node:fs";
import { assertNode22, sleep, startDevServer } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const OLD_EVENTS = Number(process.env.BENCH_OLD_EVENTS ?? 10_000);
const SAMPLES = 300;
const CONCURRENCY = 4;
const INGEST = {
  "content-type": "application/json",
  authorization: "Bearer dev-ingest-key",
  "accept-encoding": "identity",
};
const tag = Date.now().toString(36);

async function post(baseUrl, path, body) {
  const started = performance.now();
  const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: INGEST, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`${path} answered ${res.status}`);
  return performance.now() - started;
}

async function seedOldEvents(baseUrl) {
  const start = Date.parse("2024-03-01T00:00:00Z");
  // Batches of 100: on a loaded machine a 500-event batch can outlast fetch's 300 s header timeout.
  for (let i = 0; i < OLD_EVENTS; i += 100) {
    const events = Array.from({ length: Math.min(100, OLD_EVENTS - i) }, (_, j) => ({
      event: "page:viewed",
      userId: `old_${tag}_${(i + j) % 100}`,
      // Spread over 20 days, so parts are written per day.
      timestamp: new Date(start + ((i + j) % 20) * 86_400_000 + j * 1000).toISOString(),
      idempotencyKey: `old_${tag}_${i + j}`,
    }));
    await post(baseUrl, "/v1/ingest/batch", { events });
  }
}

/** Single-event ingests, `CONCURRENCY` at a time, while `more(count)` says so; latencies in ms. */
async function ingestLatencies(baseUrl, phase, more) {
  const latencies = [];
  let next = 0;
  const worker = async () => {
    while (more(next)) {
      const n = next++;
      latencies.push(
        await post(baseUrl, "/v1/ingest", {
          event: "page:viewed",
          userId: `live_${tag}_${n % 50}`,
          idempotencyKey: `${phase}_${tag}_${n}`,
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function archivedSoFar(logFile) {
  let total = 0;
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const match = line.match(/"archivedEvents":(\d+)/);
    if (match) total += Number(match[1]);
  }
  return total;
}

const server = await startDevServer("retention", { testScheduled: true });
try {
  const { baseUrl, logFile } = server;
  console.log(`bench:retention: seeding ${OLD_EVENTS} events from 2024`);
  await seedOldEvents(baseUrl);
  const idle = await ingestLatencies(baseUrl, "idle", (n) => n < SAMPLES);

  let archiving = true;
  const started = performance.now();
  const cron = (async () => {
    try {
      while (archivedSoFar(logFile) < OLD_EVENTS) {
        const res = await fetch(`${baseUrl}/__scheduled?cron=*/2+*+*+*+*`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`/__scheduled answered ${res.status}`);
        await sleep(200);
      }
    } finally {
      archiving = false;
    }
  })();
  // Sampled only while the archive is still being written.
  const during = await ingestLatencies(baseUrl, "during", () => archiving);
  await cron;
  const seconds = (performance.now() - started) / 1000;
  const archived = archivedSoFar(logFile);

  const rows = [
    ["no cron (baseline)", fmt.ms(pct(idle, 50)), fmt.ms(pct(idle, 99)), "1.00×", "1.00×"],
    [
      "cron archiving back to back",
      fmt.ms(pct(during, 50)),
      fmt.ms(pct(during, 99)),
      fmt.ratio(pct(during, 50) / pct(idle, 50)),
      fmt.ratio(pct(during, 99) / pct(idle, 99)),
    ],
  ];
  const m = await machineFacts();
  writeSection(
    "retention",
    `## Retention: ingest latency while the cron archives (\`npm run bench:retention\`)

${machineLines(m)}

${OLD_EVENTS} events dated 2024 (20 days) were ingested, then single-event ingests
(${CONCURRENCY} at a time) were timed twice: ${SAMPLES} with no cron running (the same-run baseline),
and ${during.length} while \`/__scheduled\` ran back to back until all were archived (each run archives up to 20 slices of 100 events to R2 and deletes
them from D1). ${fmt.int(archived)} events were archived in ${seconds.toFixed(1)} s of that second phase
(${fmt.int(archived / seconds)} events/s).

${table(["phase", "p50 ms", "p99 ms", "p50 vs baseline", "p99 vs baseline"], rows)}
`,
  );
  console.log(rows.map((r) => r.join("  ")).join("\n"));
  console.log(`archived ${archived} in ${seconds.toFixed(1)} s`);
} finally {
  await server.stop();
}
