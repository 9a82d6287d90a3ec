// Ingest under load (issue 6): unique events at concurrency 16 and 64 next to GET /v1/health on
// the same server in the same run, then duplicates; afterwards every acknowledged event is
// checked against D1 (nothing lost, nothing extra) and every duplicate must have been refused.
//
//   npm run bench:ingest                 (BENCH_DURATION=<seconds> per phase, default 10)
import autocannon from "autocannon";
import { assertNode22, d1Query, startDevServer, startRssSampler } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP_S = 2;
const CONCURRENCIES = [16, 64];
const DUPLICATE_SAMPLE = 500;
const RACE_KEYS = 20; // fresh keys, each sent RACE_COPIES times at once
const RACE_COPIES = 16;
const INGEST_KEY = "dev-ingest-key";
const EVENT = "bench:ingested"; // triggers no journey: this measures the ingest path itself

const runTag = Date.now().toString(36);
let seq = 0;

/** Every 202 `stored: true`, by idempotency key → eventId, across all phases. */
const acknowledged = new Map();

function ingestBody(n) {
  return {
    event: EVENT,
    userId: `bench-${runTag}-u${n}`,
    userEmail: `bench+${runTag}-${n}@example.com`,
    properties: { n, plan: n % 2 ? "pro" : "free" },
    idempotencyKey: `bench-${runTag}-k${n}`,
  };
}

const ingestHeaders = { "content-type": "application/json", authorization: `Bearer ${INGEST_KEY}` };

function header(headers, name) {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Per-phase tally of what the server answered, beyond autocannon's own counters. */
function newTally() {
  return { stored: 0, refused: 0, other: new Map(), samples: [], roundTrips: new Map() };
}

function noteOther(tally, status, body) {
  tally.other.set(status, (tally.other.get(status) ?? 0) + 1);
  if (tally.samples.length < 5) tally.samples.push({ status, body: String(body).slice(0, 500) });
}

function runCannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 10, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("error", reject);
  });
}

function summarize(result) {
  const completed = Object.values(result.statusCodeStats ?? {}).reduce((n, s) => n + Number(s.count), 0);
  return {
    rps: completed / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    duration: result.duration,
  };
}

async function healthPhase(baseUrl, connections, duration) {
  const result = await runCannon({ url: `${baseUrl}/v1/health`, connections, duration });
  return summarize(result);
}

async function uniqueIngestPhase(baseUrl, connections, duration) {
  const tally = newTally();
  const result = await runCannon({
    url: baseUrl,
    connections,
    duration,
    requests: [
      {
        method: "POST",
        path: "/v1/ingest",
        headers: ingestHeaders,
        setupRequest(request, context) {
          const n = seq++;
          context.key = `bench-${runTag}-k${n}`;
          return { ...request, body: JSON.stringify(ingestBody(n)) };
        },
        onResponse(status, body, context, headers) {
          const trips = header(headers, "x-d1-round-trips");
          tally.roundTrips.set(trips, (tally.roundTrips.get(trips) ?? 0) + 1);
          let parsed = null;
          try {
            parsed = JSON.parse(body);
          } catch {
            // counted below as an unexpected answer
          }
          if (status === 202 && parsed?.stored === true && typeof parsed.eventId === "string") {
            tally.stored += 1;
            acknowledged.set(context.key, parsed.eventId);
          } else if (status === 202 && parsed?.stored === false) {
            tally.refused += 1; // a unique key refused: would be a bug
            noteOther(tally, "202 stored:false", body);
          } else {
            noteOther(tally, status, body);
          }
        },
      },
    ],
  });
  return { ...summarize(result), tally };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Sends each body with at most `concurrency` in flight; returns answers and latencies. */
async function sendAll(baseUrl, bodies, concurrency) {
  const answers = new Array(bodies.length);
  const latencies = [];
  let next = 0;
  async function worker() {
    while (next < bodies.length) {
      const i = next++;
      const started = performance.now();
      try {
        const res = await fetch(`${baseUrl}/v1/ingest`, {
          method: "POST",
          headers: ingestHeaders,
          body: JSON.stringify(bodies[i]),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        latencies.push(performance.now() - started);
        answers[i] = { status: res.status, text, body: safeJson(text) };
      } catch (error) {
        answers[i] = { status: "error", text: String(error), body: null };
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return { answers, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Re-sends already-acknowledged keys: every answer must be 202 `stored: false`. */
async function duplicatePhase(baseUrl) {
  const keys = [...acknowledged.keys()];
  const step = Math.max(1, Math.floor(keys.length / DUPLICATE_SAMPLE));
  const sample = keys.filter((_, i) => i % step === 0).slice(0, DUPLICATE_SAMPLE);
  const bodies = sample.map((key) => ({
    event: EVENT,
    userId: `bench-${runTag}-dup`,
    properties: { overwritten: true },
    idempotencyKey: key,
  }));
  const started = performance.now();
  const { answers, p50, p99 } = await sendAll(baseUrl, bodies, 16);
  const seconds = (performance.now() - started) / 1000;
  const wrong = answers.flatMap((a, i) =>
    a.status === 202 && a.body?.stored === false
      ? []
      : [{ key: sample[i], status: a.status, body: a.text.slice(0, 300) }],
  );
  return { sent: sample.length, refused: sample.length - wrong.length, wrong, p50, p99, rps: sample.length / seconds };
}

/** Fresh keys, each sent RACE_COPIES times at once: exactly one copy of each may be stored. */
async function racePhase(baseUrl) {
  const bodies = [];
  for (let k = 0; k < RACE_KEYS; k++) {
    const n = seq++;
    for (let c = 0; c < RACE_COPIES; c++) bodies.push(ingestBody(n));
  }
  const { answers } = await sendAll(baseUrl, bodies, RACE_COPIES);
  const perKey = new Map();
  const wrong = [];
  answers.forEach((a, i) => {
    const key = bodies[i].idempotencyKey;
    if (a.status === 202 && a.body?.stored === true) {
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      acknowledged.set(key, a.body.eventId);
    } else if (!(a.status === 202 && a.body?.stored === false)) {
      wrong.push({ key, status: a.status, body: a.text.slice(0, 300) });
    }
  });
  const storedTwice = [...perKey].filter(([, n]) => n > 1).map(([key]) => key);
  const storedOnce = [...perKey].filter(([, n]) => n === 1).length;
  return { keys: RACE_KEYS, copies: RACE_COPIES, storedOnce, storedTwice, neverStored: RACE_KEYS - perKey.size, wrong };
}

/** After the server stopped: the acknowledged set against the rows D1 holds. */
async function verifyAgainstD1(persistTo) {
  const rows = await d1Query(persistTo, "SELECT id, idempotency_key AS key, processed_at AS processedAt FROM events");
  const [{ contacts }] = await d1Query(persistTo, "SELECT count(*) AS contacts FROM contacts");
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const lost = [];
  const wrongId = [];
  for (const [key, eventId] of acknowledged) {
    const row = byKey.get(key);
    if (!row) lost.push({ key, eventId });
    else if (row.id !== eventId) wrongId.push({ key, acknowledged: eventId, stored: row.id });
  }
  const unacknowledged = rows.filter((r) => !acknowledged.has(r.key)).map((r) => r.key);
  const unprocessed = rows.filter((r) => r.processedAt === null).length;
  return { rows: rows.length, acknowledged: acknowledged.size, lost, wrongId, unacknowledged, unprocessed, contacts };
}

async function main() {
  const facts = await machineFacts();
  console.log(`bench:ingest: ${DURATION_S} s per phase at concurrency ${CONCURRENCIES.join(", ")}`);
  const server = await startDevServer("ingest");
  const phases = [];
  let duplicates;
  let race;
  let memory;
  let ingestTrips;
  try {
    const rss = startRssSampler(server.pgid);
    // Warm-up (not reported): JIT, D1 file, KV; its acknowledged events are verified like the rest.
    await healthPhase(server.baseUrl, 16, WARMUP_S);
    await uniqueIngestPhase(server.baseUrl, 16, WARMUP_S);

    ingestTrips = new Map();
    for (const connections of CONCURRENCIES) {
      console.log(`  health  c=${connections} …`);
      const health = await healthPhase(server.baseUrl, connections, DURATION_S);
      console.log(`    ${fmt.int(health.rps)} req/s, p50 ${health.p50} ms, p99 ${health.p99} ms`);
      console.log(`  ingest  c=${connections} …`);
      const ingest = await uniqueIngestPhase(server.baseUrl, connections, DURATION_S);
      console.log(
        `    ${fmt.int(ingest.rps)} req/s, p50 ${ingest.p50} ms, p99 ${ingest.p99} ms, stored ${ingest.tally.stored}`,
      );
      for (const [t, n] of ingest.tally.roundTrips) ingestTrips.set(t, (ingestTrips.get(t) ?? 0) + n);
      phases.push({ connections, health, ingest });
    }
    console.log(`  duplicates (${DUPLICATE_SAMPLE} stored keys re-sent) …`);
    duplicates = await duplicatePhase(server.baseUrl);
    console.log(`    ${duplicates.refused}/${duplicates.sent} refused`);
    console.log(`  race (${RACE_KEYS} fresh keys × ${RACE_COPIES} concurrent copies) …`);
    race = await racePhase(server.baseUrl);
    memory = rss.stop();
  } finally {
    await server.stop();
  }

  console.log("  verifying against D1 …");
  const d1 = await verifyAgainstD1(server.persistTo);
  const report = render({ facts, phases, duplicates, race, memory, ingestTrips, d1 });
  writeSection("ingest", report);

  const failures = [];
  if (d1.lost.length) failures.push(`${d1.lost.length} acknowledged events are not in D1`);
  if (d1.wrongId.length) failures.push(`${d1.wrongId.length} keys stored under another event id`);
  if (duplicates.wrong.length) failures.push(`${duplicates.wrong.length} duplicates not refused`);
  if (race.storedTwice.length || race.wrong.length) failures.push("concurrent duplicates not handled exactly once");
  const unexpected = phases.reduce((n, p) => n + p.ingest.non2xx + p.ingest.errors + p.ingest.tally.refused, 0);
  if (unexpected) failures.push(`${unexpected} ingest requests failed or were refused (see RESULTS.md)`);
  if (failures.length) {
    console.error(`bench:ingest FAILED: ${failures.join("; ")}`);
    process.exitCode = 1;
  } else {
    console.log("bench:ingest: no lost events, every duplicate refused");
  }
}

function render({ facts, phases, duplicates, race, memory, ingestTrips, d1 }) {
  const inFlightAtEnds = CONCURRENCIES[0] + phases.reduce((n, p) => n + p.connections, 0); // warm-up + phases
  const rows = [];
  for (const { connections, health, ingest } of phases) {
    const line = (name, r) => [
      name,
      String(connections),
      fmt.int(r.rps),
      fmt.ms(r.p50),
      fmt.ms(r.p99),
      fmt.int(r.completed),
      String(r.non2xx),
      String(r.errors),
    ];
    rows.push(line("`GET /v1/health`", health));
    rows.push(line("`POST /v1/ingest` (unique)", ingest));
  }
  const ratios = phases.map(({ connections, health, ingest }) => [
    String(connections),
    fmt.ratio(ingest.rps / health.rps),
    fmt.ratio(ingest.p50 / health.p50),
    fmt.ratio(ingest.p99 / health.p99),
  ]);
  const trips = [...ingestTrips].map(([t, n]) => `${t ?? "(missing)"} (${fmt.int(n)} requests)`).join(", ");
  const otherAnswers = phases.flatMap((p) =>
    [...p.ingest.tally.other].map(([s, n]) => `c=${p.connections}: ${n} × ${s}`),
  );
  const samples = phases.flatMap((p) => p.ingest.tally.samples.map((s) => `c=${p.connections} ${s.status}: ${s.body}`));

  return `
## Ingest under load (\`npm run bench:ingest\`)

${machineLines(facts)}

One \`wrangler dev\` (local D1/KV/Queues, fresh state) on 127.0.0.1; autocannon in the bench's own
Node process on the same machine, so client and server share the CPUs. Each phase runs
${DURATION_S} s after a ${WARMUP_S} s warm-up. Ingest sends unique events (\`${EVENT}\`, which no journey
triggers): a new \`idempotencyKey\` and a new \`userId\` per request, so every request stores an
event and creates a contact. The health check (2 D1 round trips) is the same-run baseline; the
machine is shared and noisy, so the ratios matter more than the absolute numbers.

${table(["route", "concurrency", "req/s", "p50 ms", "p99 ms", "responses", "non-2xx", "errors/timeouts"], rows)}

Ingest relative to health, same server, same run:

${table(["concurrency", "throughput ingest/health", "p50 ingest/health", "p99 ingest/health"], ratios)}

D1 round trips per unique ingest (\`X-D1-Round-Trips\`): ${trips}.
Peak resident memory of workerd over the run: ${fmt.mib(memory.peakRssKiB)} summed VmRSS
(VmHWM ${fmt.mib(memory.hwmKiB)} over ${memory.processes} workerd processes). Under \`wrangler dev\` this grows with the
request count even for requests that touch nothing (404s), so it is not the Worker's own footprint.
${otherAnswers.length ? `\nUnexpected ingest answers: ${otherAnswers.join("; ")}.\n\n${samples.map((s) => `    ${s}`).join("\n")}\n` : ""}
### Nothing lost, duplicates refused

${table(
  ["check", "result"],
  [
    ["202 `stored: true` answers (all phases, warm-up included)", fmt.int(d1.acknowledged)],
    ["event rows in D1 after the run", fmt.int(d1.rows)],
    ["acknowledged events missing from D1 (lost)", `**${d1.lost.length}**`],
    ["acknowledged key stored under a different event id", String(d1.wrongId.length)],
    [
      `rows whose answer the client never read (in flight when a phase ended: autocannon stops without reading them; at most ${inFlightAtEnds})`,
      String(d1.unacknowledged.length),
    ],
    ["rows never marked processed (stored but not routed)", String(d1.unprocessed)],
    ["contacts in D1 (one per unique userId)", fmt.int(d1.contacts)],
    [
      `stored keys re-sent (${duplicates.sent}, 16 at a time): answered 202 \`stored: false\``,
      `**${duplicates.refused}/${duplicates.sent}**`,
    ],
    [
      "duplicate re-send latency p50 / p99",
      `${fmt.ms(duplicates.p50)} / ${fmt.ms(duplicates.p99)} ms (${fmt.int(duplicates.rps)} req/s)`,
    ],
    [
      `fresh keys sent ${race.copies}× concurrently (${race.keys} keys): stored exactly once`,
      `${race.storedOnce}/${race.keys} (twice: ${race.storedTwice.length}, never: ${race.neverStored}, other answers: ${race.wrong.length})`,
    ],
  ],
)}

The check runs after the server stopped: \`wrangler d1 execute DB --local --persist-to … --json\`
lists every event row, and each acknowledged idempotency key must be a row with the eventId the
202 carried.
${
  d1.lost.length
    ? `\nLost: ${d1.lost
        .slice(0, 10)
        .map((l) => `\`${l.key}\``)
        .join(", ")}\n`
    : ""
}${
  duplicates.wrong.length
    ? `\nDuplicates not refused: ${duplicates.wrong
        .slice(0, 5)
        .map((w) => `\`${w.key}\` → ${w.status} ${w.body}`)
        .join("; ")}\n`
    : ""
}`;
}

await main();
