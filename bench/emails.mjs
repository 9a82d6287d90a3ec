// Transactional email acceptance (issue 25): POST /v1/emails next to the same run's POST /v1/ingest
// (the ceiling: the engine's fastest write path, also one D1 round trip), alternating rounds so drift
// on a shared machine hits both alike. Reports p50/p99 latency, throughput, the answers' statuses and
// X-D1-Round-Trips per route; then checks every acknowledged emailId is a row in D1.
//
//   npm run bench:emails        (BENCH_DURATION=<seconds> per phase, default 5; BENCH_ROUNDS, default 3;
//                                BENCH_CONNECTIONS, default 16; BENCH_WRITE=0 prints without writing RESULTS.md)
import autocannon from "autocannon";
import { assertNode22, d1Query, startDevServer } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const CONTACTS = 500;
const HEADERS = { "content-type": "application/json", authorization: "Bearer dev-ingest-key" };
const runTag = Date.now().toString(36);
let seq = 0;

/** Every emailId a 202 answered, to check against D1 afterwards. */
const acknowledged = new Set();

const userOf = (n) => `bench-${runTag}-u${n % CONTACTS}`;
const ROUTES = {
  ingest: {
    path: "/v1/ingest",
    body: (n) => ({ event: "bench:ingested", userId: userOf(n), idempotencyKey: `bench-${runTag}-i${n}` }),
    ok: (status, body) => status === 202 && body?.stored === true,
  },
  emails: {
    path: "/v1/emails",
    body: (n) => ({
      template: "password-reset",
      userId: userOf(n),
      data: { resetUrl: `https://app.example.com/reset?t=${n}` },
      idempotencyKey: `bench-${runTag}-e${n}`,
    }),
    ok: (status, body) => status === 202 && typeof body?.emailId === "string",
  },
};

function runCannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 10, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("error", reject);
  });
}

async function phase(baseUrl, name, duration) {
  const route = ROUTES[name];
  const tally = { statuses: new Map(), roundTrips: new Map(), bad: [] };
  const result = await runCannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: "POST",
        path: route.path,
        headers: HEADERS,
        setupRequest: (request) => ({ ...request, body: JSON.stringify(route.body(seq++)) }),
        onResponse(status, text, _context, headers) {
          const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === "x-d1-round-trips");
          const trips = key === undefined ? "none" : headers[key];
          tally.roundTrips.set(trips, (tally.roundTrips.get(trips) ?? 0) + 1);
          let body = null;
          try {
            body = JSON.parse(text);
          } catch {
            // counted as a bad answer below
          }
          const label = body?.status ?? (body?.stored === true ? "stored" : String(status));
          tally.statuses.set(label, (tally.statuses.get(label) ?? 0) + 1);
          if (!route.ok(status, body) && tally.bad.length < 5)
            tally.bad.push(`${status} ${String(text).slice(0, 200)}`);
          if (name === "emails" && body?.emailId) acknowledged.add(body.emailId);
        },
      },
    ],
  });
  const completed = Object.values(result.statusCodeStats ?? {}).reduce((n, s) => n + Number(s.count), 0);
  return { completed, duration: result.duration, p50: result.latency.p50, p99: result.latency.p99, tally, result };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const merged = (maps) => {
  const out = new Map();
  for (const map of maps) for (const [k, v] of map) out.set(k, (out.get(k) ?? 0) + v);
  return [...out].map(([k, v]) => `${k}: ${fmt.int(v)}`).join(", ");
};

function row(name, runs) {
  const completed = runs.reduce((n, r) => n + r.completed, 0);
  const seconds = runs.reduce((n, r) => n + r.duration, 0);
  return {
    name,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    rps: completed / seconds,
    statuses: merged(runs.map((r) => r.tally.statuses)),
    roundTrips: merged(runs.map((r) => r.tally.roundTrips)),
    bad: runs.flatMap((r) => r.tally.bad),
  };
}

async function seedContacts(baseUrl) {
  for (let from = 0; from < CONTACTS; from += 500) {
    const events = Array.from({ length: Math.min(500, CONTACTS - from) }, (_, i) => ({
      event: "bench:seeded",
      userId: userOf(from + i),
      userEmail: `bench+${runTag}-${from + i}@example.com`,
    }));
    const res = await fetch(`${baseUrl}/v1/ingest/batch`, {
      method: "POST",
      headers: HEADERS,
      body: JSON.stringify({ events }),
    });
    if (res.status !== 202) throw new Error(`seeding answered ${res.status}: ${await res.text()}`);
  }
}

const facts = await machineFacts();
const server = await startDevServer("bench-emails", { vars: { EMAIL_MAX_PER_ADDRESS_PER_DAY: "1000000" } });
try {
  const { baseUrl } = server;
  await seedContacts(baseUrl);
  await phase(baseUrl, "ingest", 2); // warm-up, both routes
  await phase(baseUrl, "emails", 2);
  const runs = { ingest: [], emails: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? ["emails", "ingest"] : ["ingest", "emails"];
    for (const name of order) runs[name].push(await phase(baseUrl, name, DURATION_S));
  }
  const ingest = row("POST /v1/ingest (ceiling)", runs.ingest);
  const emails = row("POST /v1/emails", runs.emails);

  // Every acknowledged emailId must be a row (requests cut off when a phase ends may add rows nobody saw).
  const rows = await d1Query(server.persistTo, `SELECT id FROM emails WHERE idempotency_key LIKE 'bench-${runTag}-e%'`);
  const inD1 = new Set(rows.map((r) => r.id));
  const missing = [...acknowledged].filter((id) => !inD1.has(id)).length;

  const report = [
    "## Transactional email acceptance (`npm run bench:emails`)",
    "",
    machineLines(facts),
    `- ${ROUNDS} rounds of ${DURATION_S} s per route, alternating, ${CONNECTIONS} connections; ${CONTACTS} contacts; template \`password-reset\` by userId, a fresh idempotency key per request`,
    "",
    table(
      ["route", "p50 ms", "p99 ms", "req/s", "answers", "X-D1-Round-Trips"],
      [ingest, emails].map((r) => [r.name, fmt.ms(r.p50), fmt.ms(r.p99), fmt.int(r.rps), r.statuses, r.roundTrips]),
    ),
    "",
    `POST /v1/emails vs ingest: p50 ${fmt.ratio(emails.p50 / ingest.p50)}, p99 ${fmt.ratio(emails.p99 / ingest.p99)}, throughput ${fmt.ratio(emails.rps / ingest.rps)}. Acknowledged emailIds: ${fmt.int(acknowledged.size)}, missing from D1: ${fmt.int(missing)}.`,
  ].join("\n");
  console.log(`\n${report}\n`);
  for (const r of [ingest, emails])
    if (r.bad.length) console.log(`unexpected answers on ${r.name}:\n  ${r.bad.join("\n  ")}`);
  if (process.env.BENCH_WRITE !== "0") writeSection("emails", report);
  if (missing > 0) process.exitCode = 1;
} finally {
  await server.stop();
}
