// Backfill benchmark (issue 13): 100,000 imported contacts backfilled into a journey through
// POST /v1/admin/journeys/:key/backfill, next to a same-run baseline of the fastest way to enroll the
// same number of users before backfills existed: sequential batch-enrollment calls of 500 users
// (one D1 round trip per call, the same entry-guard SQL). Also: D1 round trips per page at three
// page sizes. Writes the backfill section of bench/RESULTS.md.
//
//   npm run bench:backfill                 # 100k contacts
//   BENCH_CONTACTS=20000 npm run bench:backfill
//
// The server runs with a copy of wrangler.toml whose journey-start messages go to a sink: no workflow
// runs, because 100k local workflow instances would not fit in memory (bench:recovery measured
// ~0.8 MB each). Both the backfill and the baseline hand their starts to that queue in the same
// way, so the comparison is of the enrollment work itself.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { assertNode22, ROOT, sleep, startDevServer, TMP_DIR } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 100_000);
const BATCH = 500;
const PAGE_SIZES = [100, 500, 1000];
const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

function adminKey() {
  const vars = readFileSync(path.join(ROOT, ".dev.vars"), "utf8");
  return /ADMIN_API_KEY="?([^"\n]+)"?/.exec(vars)[1];
}

/**
 * wrangler.toml with the journey-start producer pointed at a sink queue (its consumer has no handler
 * in the Worker, so each message is dropped after one delivery: no workflow starts), and paths
 * pointing back at the project. A queue with no consumer at all made sends block for minutes locally.
 */
function benchConfig() {
  const dir = path.join(TMP_DIR, "backfill-config");
  mkdirSync(dir, { recursive: true });
  const producer = 'binding = "JOURNEY_STARTS_QUEUE"\nqueue = "hogsend-journey-starts"';
  const original = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  if (!original.includes(producer)) throw new Error("journey-start producer not found in wrangler.toml");
  const toml = `${original
    .replace(producer, 'binding = "JOURNEY_STARTS_QUEUE"\nqueue = "hogsend-bench-sink"')
    .replace('main = "src/index.ts"', `main = "${path.join(ROOT, "src/index.ts")}"`)
    .replace('migrations_dir = "migrations"', `migrations_dir = "${path.join(ROOT, "migrations")}"`)
    .replace('directory = "public"', `directory = "${path.join(ROOT, "public")}"`)
    .replace(
      "node scripts/scalar-assets.mjs",
      `node ${path.join(ROOT, "scripts", "scalar-assets.mjs")}`,
    )}\n[[queues.consumers]]\nqueue = "hogsend-bench-sink"\nmax_batch_size = 100\nmax_batch_timeout = 1\nmax_retries = 0\n`;
  writeFileSync(path.join(dir, "wrangler.toml"), toml);
  copyFileSync(path.join(ROOT, ".dev.vars"), path.join(dir, ".dev.vars"));
  return path.join(dir, "wrangler.toml");
}

function client(baseUrl) {
  const headers = { authorization: `Bearer ${adminKey()}`, "accept-encoding": "identity" };
  return async (method, route, body, contentType = "application/json") => {
    const res = await fetch(`${baseUrl}${route}`, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": contentType },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(json)}`);
    return { json, trips: Number(res.headers.get("x-d1-round-trips")) };
  };
}

async function until(check, what, timeoutMs = 30 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function seed(call) {
  const lines = Array.from({ length: CONTACTS }, (_, i) =>
    JSON.stringify({
      externalId: `bf_${i}`,
      email: `bf_${i}@example.com`,
      properties: { plan: ["free", "pro", "team"][i % 3], bucket: i % 10, cartValue: 1 + (i % 50) },
    }),
  );
  const started = Date.now();
  const { json } = await call(
    "POST",
    "/v1/admin/contacts/import?format=ndjson",
    lines.join("\n"),
    "application/x-ndjson",
  );
  const job = await until(async () => {
    const { json: j } = await call("GET", `/v1/admin/contacts/import/${json.jobId}`);
    return j.status === "completed"
      ? j
      : j.status === "processing" || j.status === "pending"
        ? null
        : Promise.reject(j);
  }, "import");
  log(`imported ${job.processedRows} contacts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return json.jobId;
}

/** The baseline: CONTACTS new users in sequential batch-enrollment calls of 500. */
async function baseline(call) {
  let trips = 0;
  let enrolled = 0;
  const started = performance.now();
  for (let from = 0; from < CONTACTS; from += BATCH) {
    const users = Array.from({ length: Math.min(BATCH, CONTACTS - from) }, (_, k) => ({
      userId: `bl_${from + k}`,
      userEmail: `bl_${from + k}@example.com`,
      properties: { plan: "pro" },
    }));
    const { json, trips: t } = await call("POST", "/v1/admin/journeys/activation-welcome/enroll/batch", { users });
    trips += t;
    enrolled += json.enrolled;
  }
  const seconds = (performance.now() - started) / 1000;
  log(`baseline: ${enrolled} enrolled in ${seconds.toFixed(1)} s`);
  return { seconds, enrolled, calls: Math.ceil(CONTACTS / BATCH), trips };
}

/** Round trips of each backfill page, from the consumer's "queue batch" log lines. */
function pageTrips(logFile, since) {
  return readFileSync(logFile, "utf8")
    .split("\n")
    .slice(since)
    .filter((l) => l.includes('"queue batch"') && l.includes('"hogsend-backfills"'))
    .map((l) => JSON.parse(l.slice(l.indexOf("{"))).d1RoundTrips);
}

const logLines = (logFile) => readFileSync(logFile, "utf8").split("\n").length - 1;

async function runBackfill(call, server, journey, body) {
  const since = logLines(server.logFile);
  const started = performance.now();
  const { json } = await call("POST", `/v1/admin/journeys/${journey}/backfill`, body);
  const job = await until(async () => {
    const { json: j } = await call("GET", `/v1/admin/journeys/backfills/${json.id}`);
    if (j.status === "failed" || j.status === "cancelled") throw new Error(JSON.stringify(j));
    return j.status === "completed" ? j : null;
  }, "backfill");
  const seconds = (performance.now() - started) / 1000;
  await sleep(500); // the last page's log line
  const trips = pageTrips(server.logFile, since);
  log(
    `backfill ${journey} pageSize ${job.pageSize}: ${job.enrolled}/${job.matched} in ${seconds.toFixed(1)} s, ${trips.length} pages`,
  );
  return { job, seconds, trips };
}

/** What must hold whatever the timing; a failed check makes the bench exit non-zero. */
function check({ base, main, rerun, sizes, journey }) {
  const problems = [];
  const expect = (ok, what) => ok || problems.push(what);
  expect(base.enrolled === CONTACTS, `baseline enrolled ${base.enrolled}, not ${CONTACTS}`);
  expect(main.job.matched === CONTACTS && main.job.enrolled === CONTACTS, `backfill: ${JSON.stringify(main.job)}`);
  expect(rerun.job.enrolled === 0, `rerun enrolled ${rerun.job.enrolled}`);
  expect(rerun.job.skipped.already_entered_once === CONTACTS, "rerun: not all already_entered_once");
  for (const s of sizes) expect(s.job.enrolled === CONTACTS / 10, `page size ${s.job.pageSize}: ${s.job.enrolled}`);
  // Every page between a job's first (which also starts the job) and its last costs the same, at every page size.
  const full = new Set([main, ...sizes].flatMap((r) => r.trips.slice(1, -1)));
  expect(full.size === 1, `round trips per full page vary: ${[...full].join(", ")}`);
  const running = journey.enrollments.active + journey.enrollments.waiting;
  expect(running === base.enrolled + main.job.enrolled, `activation-welcome holds ${running} running enrollments`);
  return problems;
}

/** Round trips of the first page, the pages between, and the last. */
const spread = (xs) => {
  const middle = [...new Set(xs.slice(1, -1))].join("/");
  return `${xs[0] ?? "n/a"} · ${middle || "–"} · ${xs.at(-1) ?? "n/a"}`;
};

async function main() {
  const machine = await machineFacts();
  const server = await startDevServer("backfill", { config: benchConfig() });
  try {
    const call = client(server.baseUrl);
    const importJobId = await seed(call);
    const base = await baseline(call);
    const main = await runBackfill(call, server, "activation-welcome", { filter: { importJobId } });
    const rerun = await runBackfill(call, server, "activation-welcome", { filter: { importJobId } });
    const sizes = [];
    for (const [k, pageSize] of PAGE_SIZES.entries()) {
      const filter = { importJobId, where: [{ property: "bucket", op: "eq", value: k }] };
      sizes.push(await runBackfill(call, server, "cart-recovery", { filter, pageSize }));
    }
    const { json: journey } = await call("GET", "/v1/admin/journeys/activation-welcome");
    const problems = check({ base, main, rerun, sizes, journey });
    report({ machine, base, main, rerun, sizes, journey, problems });
    if (problems.length) {
      console.error(`bench: ${problems.length} wrong answers:\n${problems.join("\n")}`);
      process.exitCode = 1;
    }
  } finally {
    await server.stop();
  }
}

function report({ machine, base, main, rerun, sizes, journey, problems }) {
  const rate = (n, s) => n / s;
  const baseRate = rate(base.enrolled, base.seconds);
  const row = (label, r) => [
    label,
    fmt.int(r.job.matched),
    fmt.int(r.job.enrolled),
    String(r.job.pageSize),
    fmt.int(r.trips.length),
    `${r.seconds.toFixed(1)} s`,
    fmt.int(rate(r.job.matched, r.seconds)),
    fmt.ratio(rate(r.job.matched, r.seconds) / baseRate),
    spread(r.trips),
  ];
  const activeOrWaiting = journey.enrollments.active + journey.enrollments.waiting;
  const body = `
## Journey backfill (\`npm run bench:backfill\`)

${machineLines(machine)}

One \`wrangler dev\` on 127.0.0.1 with fresh local state, run with a copy of wrangler.toml whose journey-start
messages go to a sink queue the Worker doesn't handle (dropped after one delivery; no workflow runs:
${fmt.int(CONTACTS)} local workflow instances would not fit in memory). ${fmt.int(CONTACTS)} contacts are imported as NDJSON (\`plan\`, \`bucket\` = i mod 10,
\`cartValue\`), then:

- **Baseline** (the fastest way before backfills, same server, same run): ${fmt.int(base.calls)} sequential
  \`POST /v1/admin/journeys/activation-welcome/enroll/batch\` calls of ${BATCH} new users each (one D1 round trip per
  call, the same entry-guard SQL, plus the contact upsert the backfill doesn't need). Client-timed:
  ${base.seconds.toFixed(1)} s for ${fmt.int(base.enrolled)} enrollments = **${fmt.int(baseRate)} users/s**
  (${fmt.int(base.trips)} D1 round trips in all). It is the ceiling a script could reach, and it needs the users listed.
- **Backfill**: one \`POST /v1/admin/journeys/:key/backfill\` with \`{"filter":{"importJobId":…}}\`, timed from the
  request until \`GET …/backfills/:id\` (polled every 200 ms) reads \`completed\`. Pages are walked by the backfill
  queue consumer one message at a time; round trips per page come from the consumer's \`queue batch\` log line.

${table(
  [
    "run",
    "matched",
    "enrolled",
    "page size",
    "pages",
    "time",
    "contacts/s",
    "÷ baseline",
    "D1 round trips per page (first · others · last)",
  ],
  [
    row("backfill all (activation-welcome)", main),
    row("same backfill again (enrolls 0)", rerun),
    ...sizes.map((s, k) => row(`bucket = ${k} (cart-recovery)`, s)),
  ],
)}

The rerun answered \`enrolled: ${rerun.job.enrolled}\`, \`already_entered_once: ${fmt.int(rerun.job.skipped.already_entered_once)}\`.
D1 round trips per page are the same at page sizes ${PAGE_SIZES.join(", ")}: every page reads the job, reads its
matches, commits, and marks its follow-up sent; the first page also starts the job (2 more). At the end \`activation-welcome\` held ${fmt.int(activeOrWaiting)}
running enrollments (baseline ${fmt.int(base.enrolled)} + backfill ${fmt.int(main.job.enrolled)}).
${problems.length ? `\n**${problems.length} wrong answers:** ${problems.join("; ")}\n` : "\nEvery count was as expected.\n"}`;
  writeSection("backfill", body);
}

await main();
