// PostHog as a source (issue 22): buffered PostHog webhooks stored and routed per second, against
// the same run's buffered POST /v1/ingest. Two ingest baselines: `ingest` (the first runs' event of
// three properties: not like-for-like, kept to compare with them) and `ingest-same`, carrying what
// the PostHog side stores: the same event properties plus the person's properties (ingest merges
// its event properties into the contact, it has no separate person update), and no address (a
// PostHog contact gets none by default; an ingest address would add its claim and record). Both
// sides are single-event requests of identified users, batched by the same consumer. Rounds
// alternate the sources on one server, so drift on a shared machine hits all. Each round sends a
// fixed number of unique events as fast as `connections` allow and counts from the first request
// to the moment the last one is processed. D1 work per event is read from the consumer's own log
// lines: d1WaitedMs (needs a quiet machine), and statements, rows read and rows written (D1's
// meta; the same on a busy machine). Afterwards every acknowledged event must be a processed row
// (nothing lost), and each PostHog user a contact holding its person properties.
//
//   npm run bench:posthog   (BENCH_EVENTS per round, default 3000; BENCH_ROUNDS, default 3; BENCH_PORT)
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { assertNode22, d1Query, ROOT, sleep, startDevServer } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();

const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const EVENT = "bench:posthog"; // triggers no journey; routing still checks every journey's exits and waits
const ADMIN = { authorization: "Bearer dev-admin-key" };
const runTag = Date.now().toString(36);
let seq = 0;

// A real posthog-js `$pageview` body (examples/posthog-pageview.json): ~30 browser properties,
// `$set`, `$set_once` and `$unset`, and the person.
const template = JSON.parse(readFileSync(path.join(ROOT, "docs", "examples", "posthog-pageview.json"), "utf8"));

function postHogBody(n) {
  const body = structuredClone(template);
  body.event.uuid = crypto.randomUUID();
  body.event.event = EVENT;
  body.event.distinct_id = `ph-${runTag}-u${n}`;
  body.event.properties.n = n;
  return body;
}

function ingestBody(n) {
  return {
    event: EVENT,
    userId: `api-${runTag}-u${n}`,
    properties: { n, plan: n % 2 ? "pro" : "free", title: "Pricing" },
    idempotencyKey: `api-${runTag}-k${n}`,
  };
}

/** What a PostHog event left in D1 (read after the warm-up): its stored properties, its contact's properties. */
let stored = null;

async function storedByPostHog(baseUrl, eventId) {
  const event = await (await fetch(`${baseUrl}/v1/admin/events/${eventId}`, { headers: ADMIN })).json();
  const contact = await (
    await fetch(`${baseUrl}/v1/admin/contacts/${encodeURIComponent(event.userId)}`, { headers: ADMIN })
  ).json();
  if (!event.properties || !contact.properties) throw new Error("the warm-up's PostHog event or contact is missing");
  return { properties: event.properties, personProperties: contact.properties };
}

function sameIngestBody(n) {
  return {
    event: EVENT,
    userId: `same-${runTag}-u${n}`,
    properties: { ...stored.properties, ...stored.personProperties, n },
    idempotencyKey: `same-${runTag}-k${n}`,
  };
}

const INGEST_HEADERS = {
  "content-type": "application/json",
  authorization: "Bearer dev-ingest-key",
  prefer: "respond-async",
};

const SOURCES = {
  ingest: { path: "/v1/ingest", headers: INGEST_HEADERS, body: ingestBody },
  "ingest-same": { path: "/v1/ingest", headers: INGEST_HEADERS, body: sameIngestBody },
  posthog: {
    path: "/v1/webhooks/posthog",
    headers: { "content-type": "application/json", "x-posthog-webhook-secret": "dev-posthog-secret" },
    body: postHogBody,
  },
};

/** `EVENTS` unique events at `CONNECTIONS`; resolves with the acknowledged ids. */
function send(baseUrl, source) {
  const { path: route, headers, body } = SOURCES[source];
  const ids = [];
  let other = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl,
        connections: CONNECTIONS,
        amount: EVENTS,
        timeout: 30,
        requests: [
          {
            method: "POST",
            path: route,
            headers,
            setupRequest: (request) => ({ ...request, body: JSON.stringify(body(seq++)) }),
            onResponse(status, text) {
              const answer = status === 202 ? JSON.parse(text) : null;
              if (answer?.accepted && answer.eventId) ids.push(answer.eventId);
              else other += 1;
            },
          },
        ],
      },
      (error) => (error ? reject(error) : resolve({ ids, other })),
    );
    instance.on("error", reject);
  });
}

/** Polls until every one of the last acknowledged events is processed (the consumer writes in order of arrival, roughly). */
async function drained(baseUrl, ids, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids.slice(-40)) {
    for (;;) {
      const res = await fetch(`${baseUrl}/v1/admin/events/${id}`, { headers: ADMIN });
      if (res.ok && (await res.json()).processedAt) break;
      if (Date.now() > deadline) throw new Error("buffered events were not written in time");
      await sleep(100);
    }
  }
}

/**
 * D1 cost per event from the consumer's own log lines written between two offsets: each queue
 * batch line carries its messages (one event each here), D1 round trips, `d1WaitedMs`, and the
 * statements and D1-reported rows read and written.
 */
function d1Cost(file, from, to) {
  const lines = readFileSync(file)
    .subarray(from, to)
    .toString("utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    })
    .filter((line) => line.message === "queue batch" && line.queue === "hogsend-ingest-events");
  const events = lines.reduce((n, line) => n + line.messages, 0);
  const sum = (field) => lines.reduce((n, line) => n + (line[field] ?? 0), 0);
  return {
    msPerEvent: sum("d1WaitedMs") / events,
    eventsPerRoundTrip: events / sum("d1RoundTrips"),
    statementsPerEvent: sum("d1Statements") / events,
    rowsReadPerEvent: sum("d1RowsRead") / events,
    rowsWrittenPerEvent: sum("d1RowsWritten") / events,
  };
}

async function round(server, source) {
  const from = statSync(server.logFile).size;
  const started = performance.now();
  const { ids, other } = await send(server.baseUrl, source);
  const sentSeconds = (performance.now() - started) / 1000;
  await drained(server.baseUrl, ids);
  const seconds = (performance.now() - started) / 1000;
  return {
    source,
    accepted: ids.length,
    other,
    ids,
    acceptedPerSecond: ids.length / sentSeconds,
    perSecond: ids.length / seconds,
    ...d1Cost(server.logFile, from, statSync(server.logFile).size),
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const facts = await machineFacts();
const server = await startDevServer("posthog", { port: Number(process.env.BENCH_PORT) || undefined });
const ORDERS = [
  ["ingest", "ingest-same", "posthog"],
  ["posthog", "ingest", "ingest-same"],
  ["ingest-same", "posthog", "ingest"],
];
const rounds = [];
let warmUp = null;
try {
  warmUp = await round(server, "posthog"); // compiles, first D1 pages
  stored = await storedByPostHog(server.baseUrl, warmUp.ids[0]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const source of ORDERS[r % ORDERS.length]) {
      const result = await round(server, source);
      console.log(
        `${source}: ${fmt.int(result.perSecond)} events/s stored and routed (${result.accepted} accepted, ${result.other} other)`,
      );
      rounds.push(result);
    }
  }
} finally {
  await server.stop();
}

// Nothing lost: every acknowledged id is a processed row; every PostHog user has its person properties.
const acknowledged = [...(warmUp?.ids ?? []), ...rounds.flatMap((r) => r.ids)];
const [{ n: processed }] = await d1Query(
  server.persistTo,
  `SELECT count(*) AS n FROM events WHERE event = '${EVENT}' AND processed_at IS NOT NULL AND user_id LIKE '%-${runTag}-%'`,
);
const [{ n: withPlan }] = await d1Query(
  server.persistTo,
  `SELECT count(*) AS n FROM contacts WHERE external_id LIKE 'ph-${runTag}-%' AND json_extract(properties, '$.plan') = 'pro' AND json_extract(properties, '$.first_paid_plan') = 'pro'`,
);
const postHogAccepted = [...(warmUp ? [warmUp] : []), ...rounds.filter((r) => r.source === "posthog")].reduce(
  (n, r) => n + r.accepted,
  0,
);
const failures = [];
if (processed !== acknowledged.length)
  failures.push(`${processed} processed rows for ${acknowledged.length} acknowledged events`);
if (withPlan !== postHogAccepted)
  failures.push(`${postHogAccepted - withPlan} PostHog contacts without their person properties`);
if (rounds.some((r) => r.other > 0)) failures.push("some requests were not accepted");

const of = (source) => rounds.filter((r) => r.source === source);
const med = (source, field) => median(of(source).map((r) => r[field]));
const columns = (source) => [
  fmt.int(med(source, "perSecond")),
  of(source)
    .map((r) => fmt.int(r.perSecond))
    .join(", "),
  fmt.int(med(source, "acceptedPerSecond")),
  med(source, "msPerEvent").toFixed(2),
  med(source, "eventsPerRoundTrip").toFixed(1),
  med(source, "statementsPerEvent").toFixed(2),
  med(source, "rowsReadPerEvent").toFixed(1),
  med(source, "rowsWrittenPerEvent").toFixed(1),
];
const against = (baseline) => {
  const ratio = (field) => fmt.ratio(med("posthog", field) / med(baseline, field));
  return `${ratio("perSecond")} stored and routed per second, ${ratio("msPerEvent")} the D1 time per event, ${ratio("statementsPerEvent")} the statements, ${ratio("rowsReadPerEvent")} the rows read, ${ratio("rowsWrittenPerEvent")} the rows written`;
};
const bytes = (value) => Buffer.byteLength(JSON.stringify(value));
const report = `## PostHog webhooks, buffered (\`npm run bench:posthog\`)

${machineLines(facts)}
- ${EVENTS} unique events per round at ${CONNECTIONS} connections, ${ROUNDS} rounds of each source in rotating order (after one PostHog warm-up round); the time runs from the first request to the last event processed. Every event is one request of a new identified user on every side; the consumer batches them alike (up to 100 per D1 batch).
- PostHog bodies are posthog-js \`$pageview\`s (docs/examples/posthog-pageview.json: ~30 browser properties, \`$set\`, \`$set_once\`, \`$unset\`, the person). What one stored: event properties of ${fmt.int(bytes(stored?.properties ?? {}))} bytes (${Object.keys(stored?.properties ?? {}).length} keys), a contact of ${fmt.int(bytes(stored?.personProperties ?? {}))} bytes (${Object.keys(stored?.personProperties ?? {}).length} keys), no address on the contact (\`POSTHOG_EMAIL_POLICY=none\`).
- \`ingest\`: three properties per event (the earlier runs' baseline; not like-for-like). \`ingest-same\`: the stored PostHog event's properties plus the person's properties, in one \`properties\`, no address (ingest has no separate person update, so its contact takes all ${Object.keys({ ...stored?.properties, ...stored?.personProperties }).length} keys: more than PostHog's contact, a bias in PostHog's favour; the PostHog event also stores its claimed address and person update, which ingest's doesn't).

${table(
  [
    "source",
    "stored and routed / s (median)",
    "rounds",
    "accepted / s while sending",
    "D1 ms / event",
    "events / D1 round trip",
    "statements / event",
    "rows read / event",
    "rows written / event",
  ],
  [
    ["`POST /v1/ingest`, three properties (Prefer: respond-async)", ...columns("ingest")],
    ["`POST /v1/ingest`, PostHog's properties (Prefer: respond-async)", ...columns("ingest-same")],
    ["`POST /v1/webhooks/posthog` (default)", ...columns("posthog")],
  ],
)}

PostHog / ingest at the same properties: ${against("ingest-same")} (the goal: within 20 %).
PostHog / ingest with three properties (the earlier comparison): ${against("ingest")}.
D1 time is the consumer's own \`d1WaitedMs\` (its log line per queue batch): what bounds one database in production, but it moves with the machine's load; statements and rows read/written are D1's own counts from the same lines (\`meta.rows_read\`/\`rows_written\`, json_each rows included), the same on a busy machine. ${failures.length ? `**Failed:** ${failures.join("; ")}.` : `Checked after the run: all ${fmt.int(acknowledged.length)} acknowledged events processed, every PostHog contact holds its person properties.`}
`;
console.log(report);
writeSection("posthog", report);
if (failures.length) process.exitCode = 1;
