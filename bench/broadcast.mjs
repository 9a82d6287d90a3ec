// Broadcast benchmark (issue 27): a broadcast to 100,000 imported contacts (log provider) next to a
// same-run backfill of the same segment into a journey: the same page walk, so pages/s and D1
// round trips per page compare the page work itself (email rows vs enrollments). Also: the time
// from a scheduled broadcast's `sendAt` to its first send, and exactly-once counts checked in D1.
// Writes the broadcast section of bench/RESULTS.md.
//
//   npm run bench:broadcast                # 100k contacts
//   BENCH_CONTACTS=1000 npm run bench:broadcast
//   BENCH_PORT=3128 …                      # the dev server's port (default: a free one)
//
// Journey-start messages go to a sink queue (no workflow runs; see bench/backfill.mjs); the
// broadcast's emails go through the real email-send queue and the log provider.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { assertNode22, d1Query, ROOT, sleep, startDevServer, TMP_DIR } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 100_000);
const SCHEDULE_AHEAD_MS = 15_000;
/** Waiting for every email to be sent takes hours at 100k locally (one email-send consumer, 10 per batch). */
const WAIT_ALL_SENT = process.env.BENCH_WAIT_SENT === "1" || CONTACTS <= 5000;
const SEND_WINDOW_MS = 30_000;
const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

function adminKey() {
  const vars = readFileSync(path.join(ROOT, ".dev.vars"), "utf8");
  return /ADMIN_API_KEY="?([^"\n]+)"?/.exec(vars)[1];
}

/** wrangler.toml with journey starts sent to a sink queue and paths pointing back at the project. */
function benchConfig() {
  const dir = path.join(TMP_DIR, "broadcast-config");
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
    return json;
  };
}

async function until(check, what, { timeoutMs = 60 * 60_000, everyMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function seed(call) {
  const lines = Array.from({ length: CONTACTS }, (_, i) =>
    JSON.stringify({
      externalId: `bc_${i}`,
      email: `bc_${i}@example.com`,
      properties: { plan: "pro", bucket: i % 10 },
    }),
  );
  const started = Date.now();
  const { jobId } = await call(
    "POST",
    "/v1/admin/contacts/import?format=ndjson",
    lines.join("\n"),
    "application/x-ndjson",
  );
  await until(async () => {
    const j = await call("GET", `/v1/admin/contacts/import/${jobId}`);
    if (j.status === "failed" || j.status === "cancelled") throw new Error(JSON.stringify(j));
    return j.status === "completed";
  }, "import");
  log(`imported ${CONTACTS} contacts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return jobId;
}

const logLines = (logFile) => readFileSync(logFile, "utf8").split("\n").length - 1;

/** Round trips of each backfill-queue invocation (one page each) logged after line `since`. */
const pageTrips = (logFile, since) =>
  readFileSync(logFile, "utf8")
    .split("\n")
    .slice(since)
    .filter((l) => l.includes('"queue batch"') && l.includes('"hogsend-backfills"'))
    .map((l) => JSON.parse(l.slice(l.indexOf("{"))).d1RoundTrips);

const CONTENT = { template: "product-update", topic: "product-updates", data: { headline: "We moved", body: "Hi" } };

async function runBackfill(call, server, filter) {
  const since = logLines(server.logFile);
  const started = performance.now();
  const { id } = await call("POST", "/v1/admin/journeys/activation-welcome/backfill", { filter });
  const job = await until(async () => {
    const j = await call("GET", `/v1/admin/journeys/backfills/${id}`);
    if (j.status === "failed" || j.status === "cancelled") throw new Error(JSON.stringify(j));
    return j.status === "completed" ? j : null;
  }, "backfill");
  const seconds = (performance.now() - started) / 1000;
  await sleep(500);
  log(`backfill: ${job.enrolled}/${job.matched} in ${seconds.toFixed(1)} s, ${job.pages} pages`);
  return {
    pages: job.pages,
    matched: job.matched,
    done: job.enrolled,
    seconds,
    trips: pageTrips(server.logFile, since),
  };
}

/** The walk is timed until its last page commits (`finishedAt`); delivery until nothing is queued. */
async function runBroadcast(call, server, filter) {
  const since = logLines(server.logFile);
  const started = performance.now();
  const { broadcastId } = await call("POST", "/v1/admin/broadcasts", { ...CONTENT, filter });
  const get = () => call("GET", `/v1/admin/broadcasts/${broadcastId}`);
  const walked = await until(async () => {
    const b = await get();
    if (b.status === "failed" || b.status === "cancelled") throw new Error(JSON.stringify(b));
    return b.finishedAt ? b : null;
  }, "broadcast walk");
  const seconds = (performance.now() - started) / 1000;
  const trips = pageTrips(server.logFile, since);
  // Sends are measured after the walk: all of them, or those of a fixed window at 100k.
  const sendsFrom = { at: performance.now(), sent: walked.sent };
  const sent = await until(
    async () => {
      const b = await get();
      const windowOver = !WAIT_ALL_SENT && performance.now() - sendsFrom.at >= SEND_WINDOW_MS;
      return b.status === "completed" || windowOver ? b : null;
    },
    "broadcast sends",
    { everyMs: 1000 },
  );
  const sendSeconds = (performance.now() - sendsFrom.at) / 1000;
  const allSentSeconds = sent.status === "completed" ? (performance.now() - started) / 1000 : null;
  const sendRate = (sent.sent - sendsFrom.sent) / sendSeconds;
  log(
    `broadcast: walked ${walked.targeted} in ${seconds.toFixed(1)} s, ${sent.sent} sent, ${sendRate.toFixed(1)} emails/s after the walk`,
  );
  return {
    id: broadcastId,
    pages: walked.pages,
    matched: walked.targeted,
    done: sent.sent,
    seconds,
    allSentSeconds,
    sendRate,
    trips,
    view: sent,
  };
}

/**
 * A broadcast to one contact, sendAt a few seconds ahead, run first so no email-send backlog is
 * ahead of it: when does its email go?
 */
async function runScheduled(call, importJobId) {
  const sendAt = new Date(Date.now() + SCHEDULE_AHEAD_MS);
  const filter = { importJobId, search: "bc_7@" };
  const { broadcastId, status } = await call("POST", "/v1/admin/broadcasts", {
    ...CONTENT,
    filter,
    sendAt: sendAt.toISOString(),
  });
  const first = await until(
    async () => ((await call("GET", `/v1/admin/broadcasts/${broadcastId}`)).sent > 0 ? Date.now() : null),
    "first send",
    { everyMs: 50 },
  );
  await until(
    async () => (await call("GET", `/v1/admin/broadcasts/${broadcastId}`)).status === "completed",
    "scheduled sends",
  );
  log(`scheduled: first send seen ${((first - sendAt.getTime()) / 1000).toFixed(2)} s after sendAt`);
  return { id: broadcastId, status, sendAt, polledSeconds: (first - sendAt.getTime()) / 1000 };
}

async function main() {
  const machine = await machineFacts();
  const port = Number(process.env.BENCH_PORT) || undefined;
  const server = await startDevServer("broadcast", { config: benchConfig(), port });
  let runs;
  try {
    const call = client(server.baseUrl);
    const importJobId = await seed(call);
    const filter = { importJobId, where: [{ property: "plan", op: "eq", value: "pro" }] };
    const scheduled = await runScheduled(call, importJobId);
    const backfill = await runBackfill(call, server, filter);
    const broadcast = await runBroadcast(call, server, filter);
    runs = { backfill, broadcast, scheduled };
  } finally {
    await server.stop();
  }
  // Read after the server stopped (local D1 is one SQLite file): exactness and the first send's own time.
  const [rows] = await d1Query(
    server.persistTo,
    `SELECT count(*) AS n, count(DISTINCT contact_id) AS contacts FROM emails WHERE broadcast_id = '${runs.broadcast.id}'`,
  );
  const [first] = await d1Query(
    server.persistTo,
    `SELECT min(sent_at) AS at FROM emails WHERE broadcast_id = '${runs.scheduled.id}'`,
  );
  runs.scheduled.firstSendSeconds = (first.at - runs.scheduled.sendAt.getTime()) / 1000;
  const problems = check(runs, rows);
  report({ machine, ...runs, rows, problems });
  if (problems.length) {
    console.error(`bench: ${problems.length} wrong answers:\n${problems.join("\n")}`);
    process.exitCode = 1;
  }
}

function check({ backfill, broadcast, scheduled }, rows) {
  const problems = [];
  const expect = (ok, what) => ok || problems.push(what);
  expect(backfill.done === CONTACTS, `backfill enrolled ${backfill.done}`);
  expect(broadcast.matched === CONTACTS, `broadcast: ${JSON.stringify(broadcast.view)}`);
  if (WAIT_ALL_SENT) expect(broadcast.done === CONTACTS, `broadcast sent ${broadcast.done}`);
  expect(rows.n === CONTACTS && rows.contacts === CONTACTS, `email rows ${rows.n} for ${rows.contacts} contacts`);
  expect(scheduled.status === "scheduled", `scheduled broadcast answered ${scheduled.status}`);
  expect(
    scheduled.firstSendSeconds >= 0 && scheduled.firstSendSeconds < 60,
    `first send ${scheduled.firstSendSeconds} s after sendAt`,
  );
  return problems;
}

const spread = (xs) => `${xs[0] ?? "n/a"} · ${[...new Set(xs.slice(1, -1))].join("/") || "–"} · ${xs.at(-1) ?? "n/a"}`;

function report({ machine, backfill, broadcast, scheduled, rows, problems }) {
  const pps = (r) => r.pages / r.seconds;
  const row = (label, r) => [
    label,
    fmt.int(r.matched),
    fmt.int(r.pages),
    `${r.seconds.toFixed(1)} s`,
    pps(r).toFixed(1),
    fmt.int(r.matched / r.seconds),
    spread(r.trips),
  ];
  const body = `
## Broadcast (\`npm run bench:broadcast\`)

${machineLines(machine)}

One \`wrangler dev\` on 127.0.0.1 with fresh local state (log provider; journey starts to a sink queue, no
workflow runs). ${fmt.int(CONTACTS)} contacts imported as NDJSON, then, one after the other, over the same
segment (\`{"importJobId":…,"where":[{"property":"plan","op":"eq","value":"pro"}]}\`, all of them):

- **Backfill** (the ceiling for the walk: the same page loop, enrolling instead of making email rows):
  \`POST /v1/admin/journeys/activation-welcome/backfill\`, timed until \`completed\`.
- **Broadcast**: \`POST /v1/admin/broadcasts\` (\`product-update\`), the walk timed until its last page
  committed (\`finishedAt\`), while the email-send queue already sends.

${table(
  ["run", "contacts", "pages", "walk time", "pages/s", "contacts/s", "D1 round trips per page (first · others · last)"],
  [row("backfill (activation-welcome)", backfill), row("broadcast (product-update)", broadcast)],
)}

Broadcast pages/s ÷ backfill pages/s: **${fmt.ratio(pps(broadcast) / pps(backfill))}**. ${
    broadcast.allSentSeconds === null
      ? `${fmt.int(broadcast.done)} emails were sent when the measure stopped (${SEND_WINDOW_MS / 1000} s after the walk)`
      : `Every email was sent ${broadcast.allSentSeconds.toFixed(1)} s after the request`
  }: ${broadcast.sendRate.toFixed(1)} emails/s after the walk through the local email-send queue (one consumer, 10 messages
per invocation). D1 held ${fmt.int(rows.n)} email rows for ${fmt.int(rows.contacts)} distinct contacts.

**sendAt → first send**: a broadcast to one contact, run first, with \`sendAt\` ${SCHEDULE_AHEAD_MS / 1000} s ahead answered
\`${scheduled.status}\`; its first email's \`sent_at\` was **${scheduled.firstSendSeconds.toFixed(2)} s** after \`sendAt\`
(seen by a 50 ms poll after ${scheduled.polledSeconds.toFixed(2)} s).
${problems.length ? `\n**${problems.length} wrong answers:** ${problems.join("; ")}\n` : "\nEvery count was as expected.\n"}`;
  writeSection("broadcast", body);
}

await main();
