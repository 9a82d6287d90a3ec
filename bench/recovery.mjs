// Recovery operations (issue 5): batch enrollment of 500 users and replay of 1000 events, each
// timed per request (median of several runs) with the request's D1 round trips (X-D1-Round-Trips),
// next to small and medium sizes to show the round trips do not grow with the item count.
//
//   npm run bench:recovery               (BENCH_REPS=<runs per size>, default 3)
import { readFileSync } from "node:fs";
import { assertNode22, d1Query, sleep, startDevServer, startRssSampler } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const REPS = Number(process.env.BENCH_REPS ?? 3);
// After a first replay of 1000 sign-ups, local workerd spends tens of seconds starting (and
// running) the 1000 workflows the journey-start queue hands it, which the settle step waits out;
// so that size runs once per form unless asked: keeps `npm run bench` bounded.
const LARGE_REPS = Number(process.env.BENCH_LARGE_REPS ?? 1);
const ENROLL_SIZES = [5, 100, 500];
const REPLAY_SIZES = [10, 100, 1000];
const repsFor = (size) => (size >= 1000 ? LARGE_REPS : REPS);
const JOURNEY = "activation-welcome"; // triggered by user:signed_up, entry limit "once"
const SETTLE_TIMEOUT_MS = 120_000;
const ADMIN = { "content-type": "application/json", authorization: "Bearer dev-admin-key" };

const runTag = Date.now().toString(36);
const problems = []; // wrong answers, recorded with the request and the response

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One timed request: wall time from sending to the whole body read, its D1 round trips, and the
 * request id it was sent with (to find the Worker's own log line later). Never throws: a timeout
 * or a connection error comes back as status "error".
 */
async function call(baseUrl, method, path, body, { timeoutMs = 180_000 } = {}) {
  const requestId = crypto.randomUUID();
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      // As curl does. With gzip accepted, local workerd compresses the body in the same busy
      // process that is creating the replay's workflows, and the body then arrives tens of
      // seconds after the headers: a wrangler dev artifact (Cloudflare compresses at its edge).
      headers: { ...ADMIN, "x-request-id": requestId, "accept-encoding": "identity" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // kept as text for the report
    }
    return { status: res.status, json, text, ms, requestId, trips: Number(res.headers.get("x-d1-round-trips")) };
  } catch (error) {
    return { status: "error", json: null, text: String(error), ms: performance.now() - started, requestId, trips: NaN };
  }
}

/** The Worker's own durationMs per request id, from its request log lines in the wrangler log. */
function workerDurations(logFile) {
  const durations = new Map();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line);
      if (entry.requestId && typeof entry.durationMs === "number") durations.set(entry.requestId, entry.durationMs);
    } catch {
      // not a log line of ours
    }
  }
  return durations;
}

function expect(what, condition, request, response) {
  if (condition) return true;
  const entry = {
    what,
    request: JSON.stringify(request).slice(0, 300),
    status: response.status,
    response: response.text.slice(0, 500),
  };
  problems.push(entry);
  console.error(`  ✗ ${what}: ${response.status} ${entry.response}`);
  return false;
}

/** Waits (bounded) until no enrollment of the journey is still `active`: every workflow reached its wait. */
async function settle(baseUrl) {
  const started = performance.now();
  for (;;) {
    const res = await call(baseUrl, "GET", `/v1/admin/journeys/${JOURNEY}`);
    const counts = res.json?.enrollments;
    if (counts && counts.active === 0) return { seconds: (performance.now() - started) / 1000, counts };
    if (performance.now() - started > SETTLE_TIMEOUT_MS) return { seconds: null, counts };
    await sleep(250);
  }
}

async function healthBaseline(baseUrl, n = 20) {
  const times = [];
  for (let i = 0; i < n; i++) times.push((await call(baseUrl, "GET", "/v1/health")).ms);
  return median(times);
}

async function enrollRun(baseUrl, size, rep) {
  const users = Array.from({ length: size }, (_, i) => ({
    userId: `rec-${runTag}-e${size}-r${rep}-u${i}`,
    userEmail: `rec+${runTag}-e${size}-r${rep}-${i}@example.com`,
  }));
  const body = { users };
  const res = await call(baseUrl, "POST", `/v1/admin/journeys/${JOURNEY}/enroll/batch`, body);
  expect(
    `enroll ${size}: 200 with enrolled ${size}, skipped 0`,
    res.status === 200 && res.json?.enrolled === size && res.json?.skipped === 0,
    { users: `${size} users` },
    res,
  );
  const settled = await settle(baseUrl);
  return {
    ms: res.ms,
    trips: res.trips,
    requestId: res.requestId,
    settleS: settled.seconds,
    enrolled: res.json?.enrolled ?? 0,
  };
}

let seedWindow = 0;

/** Stores `size` sign-ups that enroll nobody yet (journey disabled), in their own time window. */
async function seedSignups(baseUrl, size) {
  const from = Date.UTC(2020, 0, 1) + seedWindow++ * 86_400_000;
  const events = Array.from({ length: size }, (_, i) => ({
    event: "user:signed_up",
    userId: `rec-${runTag}-w${seedWindow}-u${i}`,
    userEmail: `rec+${runTag}-w${seedWindow}-${i}@example.com`,
    idempotencyKey: `rec-${runTag}-w${seedWindow}-k${i}`,
    timestamp: new Date(from + i * 1000).toISOString(),
  }));
  const off = await call(baseUrl, "PATCH", `/v1/admin/journeys/${JOURNEY}`, { enabled: false });
  expect("disable journey", off.status === 200 && off.json?.enabled === false, { enabled: false }, off);
  const eventIds = [];
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500);
    const res = await fetch(`${baseUrl}/v1/ingest/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer dev-ingest-key" },
      body: JSON.stringify({ events: chunk }),
      signal: AbortSignal.timeout(60_000),
    });
    const json = await res.json();
    for (const r of json.results ?? []) if (r.stored && r.journeys.length === 0) eventIds.push(r.eventId);
  }
  if (eventIds.length !== size)
    problems.push({
      what: `seed ${size} sign-ups`,
      request: "POST /v1/ingest/batch",
      status: "-",
      response: `${eventIds.length} stored without enrolling`,
    });
  const on = await call(baseUrl, "PATCH", `/v1/admin/journeys/${JOURNEY}`, { enabled: null });
  expect("re-enable journey", on.status === 200 && on.json?.enabled === true, { enabled: null }, on);
  return { eventIds, from: new Date(from).toISOString(), to: new Date(from + (size - 1) * 1000).toISOString() };
}

async function replayRun(baseUrl, size, form) {
  const seed = await seedSignups(baseUrl, size);
  const body =
    form === "ids"
      ? { eventIds: seed.eventIds, limit: 1000 }
      : { filter: { event: "user:signed_up", from: seed.from, to: seed.to }, limit: 1000 };
  const shown = form === "ids" ? { eventIds: `${size} ids`, limit: 1000 } : body;

  const dry = await call(baseUrl, "POST", "/v1/admin/events/replay", { ...body, dryRun: true });
  expect(
    `replay ${size} by ${form} (dry run): ${size} results, each would_enroll`,
    dry.status === 200 &&
      dry.json?.results?.length === size &&
      dry.json.results.every((r) => r.journeys.some((j) => j.key === JOURNEY && j.outcome === "would_enroll")),
    { ...shown, dryRun: true },
    dry,
  );
  const first = await call(baseUrl, "POST", "/v1/admin/events/replay", body);
  expect(
    `replay ${size} by ${form} (first): replayed ${size}, enrolled ${size}, no errors`,
    first.status === 200 &&
      first.json?.replayed === size &&
      first.json?.enrolled === size &&
      first.json?.errors?.length === 0,
    shown,
    first,
  );
  const settled = await settle(baseUrl);
  const second = await call(baseUrl, "POST", "/v1/admin/events/replay", body);
  expect(
    `replay ${size} by ${form} (again): replayed ${size}, enrolled 0`,
    second.status === 200 &&
      second.json?.replayed === size &&
      second.json?.enrolled === 0 &&
      second.json?.errors?.length === 0,
    shown,
    second,
  );
  const timing = (r) => ({ ms: r.ms, trips: r.trips, requestId: r.requestId });
  return {
    dry: timing(dry),
    first: timing(first),
    second: timing(second),
    settleS: settled.seconds,
    enrolled: first.json?.enrolled ?? 0,
  };
}

/** After the server stopped: replays made no event rows, counted each replay, enrolled each user once. */
async function verifyAgainstD1(persistTo, expected) {
  const [events] = await d1Query(
    persistTo,
    "SELECT count(*) AS rows, sum(replay_count) AS replays, sum(replay_count <> 2) AS notTwice FROM events",
  );
  const [enrollments] = await d1Query(
    persistTo,
    `SELECT count(*) AS rows, count(DISTINCT user_id) AS users FROM enrollments WHERE journey_key = '${JOURNEY}'`,
  );
  return { events, enrollments, expected };
}

/** Median, range and distinct round-trip counts of one kind of request over runs. */
function summarizeRuns(runs, pick, durations = new Map()) {
  const ms = runs.map((r) => pick(r).ms);
  const trips = [...new Set(runs.map((r) => pick(r).trips))];
  const worker = runs.map((r) => durations.get(pick(r).requestId)).filter((v) => v !== undefined);
  return {
    median: median(ms),
    min: Math.min(...ms),
    max: Math.max(...ms),
    trips,
    workerMedian: worker.length ? median(worker) : NaN,
  };
}

async function main() {
  const started = performance.now();
  const facts = await machineFacts();
  console.log(`bench:recovery: ${REPS} runs per size (${LARGE_REPS} at 1000)`);
  const server = await startDevServer("recovery");
  const enroll = new Map();
  const replay = { ids: new Map(), filter: new Map() };
  let health;
  let finalCounts;
  let expected;
  let memory;
  try {
    const rss = startRssSampler(server.pgid);
    await healthBaseline(server.baseUrl, 5); // warm-up
    health = await healthBaseline(server.baseUrl);
    console.log(`  health p50 (sequential): ${fmt.ms(health)} ms`);

    for (const size of ENROLL_SIZES) {
      const runs = [];
      for (let rep = 0; rep < repsFor(size); rep++) runs.push(await enrollRun(server.baseUrl, size, rep));
      enroll.set(size, runs);
      const s = summarizeRuns(runs, (r) => r);
      console.log(`  enroll ${size}: median ${fmt.ms(s.median)} ms, round trips ${s.trips.join("/")}`);
    }
    for (const size of REPLAY_SIZES) {
      for (const form of ["ids", "filter"]) {
        const runs = [];
        for (let rep = 0; rep < repsFor(size); rep++) runs.push(await replayRun(server.baseUrl, size, form));
        replay[form].set(size, runs);
        const s = summarizeRuns(runs, (r) => r.first);
        console.log(`  replay ${size} by ${form}: median ${fmt.ms(s.median)} ms, round trips ${s.trips.join("/")}`);
      }
    }
    finalCounts = (await settle(server.baseUrl)).counts;
    const enrolledTotal =
      [...enroll.values()].flat().reduce((n, r) => n + r.enrolled, 0) +
      [...replay.ids.values(), ...replay.filter.values()].flat().reduce((n, r) => n + r.enrolled, 0);
    const seeded = REPLAY_SIZES.reduce((n, s) => n + s * repsFor(s), 0) * 2;
    expected = { enrolledTotal, seeded };
    memory = rss.stop();
  } finally {
    await server.stop();
  }
  const durations = workerDurations(server.logFile);
  const d1 = await verifyAgainstD1(server.persistTo, expected);
  if (
    d1.events.rows !== expected.seeded ||
    d1.events.notTwice !== 0 ||
    d1.enrollments.rows !== expected.enrolledTotal ||
    d1.enrollments.users !== expected.enrolledTotal
  ) {
    problems.push({ what: "D1 after the run", request: "-", status: "-", response: JSON.stringify(d1) });
  }
  if (!roundTripsConstant(enroll, replay)) {
    problems.push({
      what: "D1 round trips grow with the item count",
      request: "-",
      status: "-",
      response: "see the table",
    });
  }
  const totalS = (performance.now() - started) / 1000;
  writeSection("recovery", render({ facts, health, enroll, replay, finalCounts, d1, durations, totalS, memory }));

  if (problems.length) {
    console.error(`bench:recovery FAILED: ${problems.length} wrong answers (see RESULTS.md)`);
    process.exitCode = 1;
  } else {
    console.log("bench:recovery: every answer as expected");
  }
}

function render({ facts, health, enroll, replay, finalCounts, d1, durations, totalS, memory }) {
  const row = (op, size, runs, pick) => {
    const s = summarizeRuns(runs, pick, durations);
    return [
      op,
      fmt.int(size),
      String(runs.length),
      fmt.ms(s.median),
      `${fmt.ms(s.min)}–${fmt.ms(s.max)}`,
      Number.isNaN(s.workerMedian) ? "n/a" : fmt.ms(s.workerMedian),
      fmt.ratio(s.median / health),
      s.trips.join(", "),
    ];
  };
  const rows = [];
  for (const [size, runs] of enroll) rows.push(row("batch enroll (new users)", size, runs, (r) => r));
  const forms = { ids: "eventIds", filter: "filter" };
  for (const form of ["ids", "filter"]) {
    for (const [kind, pick] of kinds) {
      for (const [size, runs] of replay[form]) rows.push(row(`replay by ${forms[form]}, ${kind}`, size, runs, pick));
    }
  }
  const settleRows = [];
  for (const [size, runs] of enroll) settleRows.push(["batch enroll", fmt.int(size), settleText(runs)]);
  for (const form of ["ids", "filter"])
    for (const [size, runs] of replay[form])
      settleRows.push([`first replay by ${forms[form]}`, fmt.int(size), settleText(runs)]);

  const tripsAt = (m, size, pick) => summarizeRuns(m.get(size), pick).trips.join("/");
  const tripsConstant = roundTripsConstant(enroll, replay);
  const perItem = (m, size, pick) => summarizeRuns(m.get(size), pick).median / size;

  return `
## Recovery operations (\`npm run bench:recovery\`)

${machineLines(facts)}
- Whole bench: ${Math.round(totalS)} s

One \`wrangler dev\` on 127.0.0.1 with fresh local state; requests are sent one at a time and timed
by the client (request sent → whole body read). Sizes up to 500 run ${REPS} times, the 1000-event
replays ${LARGE_REPS} time(s) per form (each takes tens of seconds under \`wrangler dev\`; \`BENCH_REPS\` and
\`BENCH_LARGE_REPS\` raise them); every run uses fresh users or freshly seeded events, and the table
shows the median and the range. Batch enroll targets \`${JOURNEY}\` with new userIds. Replay
seeds \`user:signed_up\` events through \`POST /v1/ingest/batch\` while the journey is disabled
(\`PATCH … {"enabled": false}\`), re-enables it (\`{"enabled": null}\`) and replays them (the
"backfill a new journey" case), by \`eventIds\` (\`limit: 1000\`) or by \`filter\` (\`event\` + the
seed's \`from\`/\`to\` window): first as a dry run, then for real, then the same replay again, which
must enroll nobody. Between timed requests the bench waits until no enrollment is \`active\` (each
workflow sent its welcome email and is waiting), so a timed request doesn't compete with the
previous run's workflows. "Worker ms" is the \`durationMs\` of the Worker's own request log line
(workerd's clock does not advance while the isolate computes, so it undercounts CPU-bound time).
The baseline is \`GET /v1/health\` on the same server, sequential (median ${fmt.ms(health)} ms); the
machine is shared and noisy, so the ratios matter more than the absolute numbers.

${table(["operation", "items", "runs", "median ms", "min–max ms", "Worker ms (median)", "× health", "D1 round trips"], rows)}

D1 round trips per request are ${tripsConstant ? "**the same at every size**" : "**NOT constant across sizes** (see the table)"}:
batch enroll ${ENROLL_SIZES.map((s) => `${s} → ${tripsAt(enroll, s, (r) => r)}`).join(", ")};
replay by eventIds ${REPLAY_SIZES.map((s) => `${s} → ${tripsAt(replay.ids, s, (r) => r.first)}`).join(", ")};
by filter ${REPLAY_SIZES.map((s) => `${s} → ${tripsAt(replay.filter, s, (r) => r.first)}`).join(", ")}.
The header counts the request's own D1 work; workflows started by it run afterwards.

Wall time per item, median: batch enroll ${ENROLL_SIZES.map((s) => `${s} → ${perItem(enroll, s, (r) => r).toFixed(2)} ms`).join(", ")};
first replay by eventIds ${REPLAY_SIZES.map((s) => `${s} → ${perItem(replay.ids, s, (r) => r.first).toFixed(2)} ms`).join(", ")}.

Time until no enrollment was \`active\` any more after a run (workflows started, welcome email sent,
waiting for \`user:activated\`), median of the runs:

${table(["after", "items", "seconds"], settleRows)}
${replaySettledInRequest(replay) ? "\nA replay's workflows had all reached their wait by the time its response arrived (0 s above): the\nreplay creates the workflow instances inside the request, while batch enroll hands them to the\njourney-start queue and answers at once.\n" : ""}
Peak resident memory of workerd over the run (${fmt.int(d1.enrollments.rows)} workflows left waiting at the end):
${fmt.mib(memory.peakRssKiB)} summed VmRSS (VmHWM ${fmt.mib(memory.hwmKiB)} over ${memory.processes} workerd processes).

### Correctness

${problems.length === 0 ? "Every answer was as expected" : `**${problems.length} wrong answers** (listed below)`}: batch enroll answered \`enrolled: n, skipped: 0\` for
n new users; a dry run listed n results, each \`would_enroll\`; the first replay answered
\`replayed: n, enrolled: n, errors: []\` and the second \`replayed: n, enrolled: 0\`. After the run
(server stopped, read with \`wrangler d1 execute\`): ${fmt.int(d1.events.rows)} event rows for
${fmt.int(d1.expected.seeded)} seeded (replays add none); ${d1.events.notTwice} events whose \`replay_count\` isn't 2
(two real replays each; dry runs must not count); ${fmt.int(d1.enrollments.rows)} enrollments for
${fmt.int(d1.enrollments.users)} distinct users (${fmt.int(d1.expected.enrolledTotal)} reported enrolled). Journey
enrollment counts at the end: \`${JSON.stringify(finalCounts)}\`.
${
  problems.length
    ? `\n${table(
        ["what", "request", "status", "response"],
        problems.map((p) => [
          p.what,
          `\`${p.request}\``,
          String(p.status),
          `\`${String(p.response).replaceAll("|", "\\|")}\``,
        ]),
      )}\n`
    : ""
}`;
}

const kinds = [
  ["dry run", (r) => r.dry],
  ["first (enrolls all)", (r) => r.first],
  ["again (enrolls 0)", (r) => r.second],
];

/** Each kind of request makes the same number of D1 round trips at every size. */
function roundTripsConstant(enroll, replay) {
  const constant = (m, pick, sizes) => new Set(sizes.flatMap((s) => summarizeRuns(m.get(s), pick).trips)).size === 1;
  return (
    constant(enroll, (r) => r, ENROLL_SIZES) &&
    ["ids", "filter"].every((form) => kinds.every(([, pick]) => constant(replay[form], pick, REPLAY_SIZES)))
  );
}

function replaySettledInRequest(replay) {
  const all = [...replay.ids.values(), ...replay.filter.values()].flat().map((r) => r.settleS);
  return all.length > 0 && all.every((v) => v !== null && v < 0.5);
}

function settleText(runs) {
  const values = runs.map((r) => r.settleS);
  if (values.some((v) => v === null))
    return `not settled within ${SETTLE_TIMEOUT_MS / 1000} s in ${values.filter((v) => v === null).length} run(s)`;
  return fmt.ms(median(values));
}

await main();
