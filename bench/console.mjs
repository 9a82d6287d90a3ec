// The console's pages: time to first render (first contentful paint in Chromium) and bytes
// transferred per page, on a database seeded with N contacts, M events, and a journey's
// enrollments and emails for a tenth of the contacts. The same-run baseline is the sign-in page:
// the same Worker, stylesheet and browser, no D1 (the floor any console page starts from).
// Writes the console section of bench/RESULTS.md.
//   npm run bench:console                                   (2,000 contacts, 20,000 events)
//   npm run bench:console -- --contacts 100000 --events 1000000
// Seeds D1 directly (INSERT … SELECT over a recursive CTE, 100k rows per statement) after the
// migrations; each page is loaded with the browser cache off, three times, and the median kept.
import { chromium } from "playwright-core";
import { assertNode22, d1Query, startDevServer } from "./lib/dev-server.mjs";
import { fmt, machineFacts, machineLines, table, writeSection } from "./lib/results.mjs";

assertNode22();
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CONTACTS = arg("contacts", 2000);
const EVENTS = arg("events", 20000);
const ENROLLED = Math.floor(CONTACTS / 10);
const STEP = 100_000;
const DAY = 86_400_000;

/** Rows [from, to) of `table` as one statement: a recursive CTE counts, `select` shapes each row. */
const series = (from, to, insert, select) =>
  `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to - 1}) ${insert} ${select} FROM n`;

async function seed(persistTo) {
  const now = Date.now();
  for (let from = 0; from < CONTACTS; from += STEP) {
    await d1Query(
      persistTo,
      series(
        from,
        Math.min(CONTACTS, from + STEP),
        "INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at, first_seen_at, last_seen_at)",
        `SELECT printf('c%08d', i), printf('bench_%d', i), printf('bench_%d@example.com', i), '{"plan":"pro"}', ${now}, ${now}, ${now}, ${now}`,
      ),
    );
  }
  // Events over the last 14 days, spread over the contacts.
  for (let from = 0; from < EVENTS; from += STEP) {
    await d1Query(
      persistTo,
      series(
        from,
        Math.min(EVENTS, from + STEP),
        "INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at, processed_at)",
        `SELECT printf('e%09d', i), CASE i % 3 WHEN 0 THEN 'page:viewed' WHEN 1 THEN 'feature:used' ELSE 'user:active' END, printf('bench_%d', i % ${Math.max(1, CONTACTS)}), '{}', 'api', ${now} - (i % 14) * ${DAY}, ${now}, ${now}`,
      ),
    );
  }
  // A tenth of the contacts in activation-welcome, each with its welcome email (the funnel's data).
  for (let from = 0; from < ENROLLED; from += STEP) {
    const to = Math.min(ENROLLED, from + STEP);
    await d1Query(
      persistTo,
      series(
        from,
        to,
        "INSERT INTO enrollments (id, journey_key, user_id, status, source, waiting_for, enrolled_at, updated_at)",
        `SELECT printf('n%08d', i), 'activation-welcome', printf('bench_%d', i), CASE i % 4 WHEN 0 THEN 'waiting' WHEN 1 THEN 'completed' WHEN 2 THEN 'exited' ELSE 'waiting' END, 'event', CASE i % 4 WHEN 0 THEN 'user:activated' ELSE NULL END, ${now} - (i % 14) * ${DAY}, ${now}`,
      ),
    );
    await d1Query(
      persistTo,
      series(
        from,
        to,
        "INSERT INTO emails (id, user_id, to_address, template_key, journey_key, enrollment_id, step_key, props, status, created_at, updated_at, sent_at)",
        `SELECT printf('m%08d', i), printf('bench_%d', i), printf('bench_%d@example.com', i), 'welcome', 'activation-welcome', printf('n%08d', i), '1:sendEmail:welcome', '{}', CASE i % 20 WHEN 0 THEN 'failed' ELSE 'sent' END, ${now} - (i % 14) * ${DAY}, ${now}, ${now}`,
      ),
    );
  }
}

const PAGES = [
  "/console",
  "/console/people",
  "/console/people/bench_1",
  "/console/imports",
  "/console/events",
  "/console/events/e000000001",
  "/console/emails",
  "/console/journeys",
  "/console/journeys/activation-welcome",
  "/console/jobs",
  "/console/dead-letters",
];

async function measure(page, url) {
  await page.goto(url, { waitUntil: "load" });
  return page.evaluate(async () => {
    const paint = await new Promise((resolve) => {
      new PerformanceObserver((list) => resolve(list.getEntries()[0])).observe({ type: "paint", buffered: true });
      setTimeout(() => resolve(undefined), 3000);
    });
    const nav = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType("navigation")[0]);
    const resources = /** @type {PerformanceResourceTiming[]} */ (performance.getEntriesByType("resource"));
    const sum = (key) => nav[key] + resources.reduce((total, r) => total + r[key], 0);
    return {
      firstRenderMs: Math.round(/** @type {PerformanceEntry | undefined} */ (paint)?.startTime ?? Number.NaN),
      serverMs: Math.round(nav.responseStart - nav.requestStart),
      htmlBytes: nav.decodedBodySize,
      transferBytes: sum("transferSize"),
      decodedBytes: sum("decodedBodySize"),
      requests: 1 + resources.length,
    };
  });
}

const median = (values) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

const BASELINE = "/console/sign-in";
const COLUMNS = ["firstRenderMs", "serverMs", "htmlBytes", "requests", "transferBytes", "decodedBytes"];

/**
 * Medians of three loads of `path` (cache off).
 * @returns {Promise<Record<string, number>>}
 */
async function loads(page, baseUrl, path) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await measure(page, `${baseUrl}${path}`));
  return Object.fromEntries(COLUMNS.map((key) => [key, median(runs.map((r) => r[key]))]));
}

const facts = await machineFacts();
const server = await startDevServer("bench-console", { port: Number(process.env.BENCH_PORT) || undefined });
/** @type {Array<{ path: string; firstRenderMs: number; serverMs: number; htmlBytes: number; requests: number; transferBytes: number; decodedBytes: number }>} */
const results = [];
let seedSeconds;
let baseline;
try {
  const started = Date.now();
  await seed(server.persistTo);
  seedSeconds = (Date.now() - started) / 1000;
  console.log(
    `seeded ${CONTACTS} contacts, ${EVENTS} events, ${ENROLLED} enrollments and emails in ${seedSeconds.toFixed(1)} s`,
  );
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await page.goto(`${server.baseUrl}/console/sign-in`);
  await page.getByLabel("API key").fill("dev-admin-key");
  await Promise.all([
    page.waitForURL(`${server.baseUrl}/console`),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  for (const path of PAGES) {
    const m = await loads(page, server.baseUrl, path);
    results.push(/** @type {(typeof results)[number]} */ ({ path, ...m }));
    console.log(path, JSON.stringify(m));
  }
  // After the pages, warm: loaded first, a fresh browser's and Worker's start made it 2× slower.
  baseline = await loads(page, server.baseUrl, BASELINE);
  console.log(BASELINE, JSON.stringify(baseline));
  await browser.close();
} finally {
  await server.stop();
}

const body = `## Console pages (\`npm run bench:console\`)

${machineLines(facts)}

One \`wrangler dev\` with fresh local state, seeded by SQL: ${fmt.int(CONTACTS)} contacts, ${fmt.int(EVENTS)} events
over 14 days, and ${fmt.int(ENROLLED)} \`activation-welcome\` enrollments each with its welcome email (seeding took
${seedSeconds.toFixed(1)} s). Chromium (the system's), cache off, each page loaded three times, the median kept.
First render is Chromium's first contentful paint; bytes are what the page and its assets transferred
(gzipped) and decoded. The baseline is the sign-in page (the same Worker, stylesheet and browser, no
D1), loaded after the pages (loaded first, a fresh browser's and Worker's start made it about 2× slower).

${table(
  [
    "page",
    "first render ms",
    "÷ baseline",
    "server ms",
    "HTML bytes",
    "requests",
    "bytes transferred",
    "bytes decoded",
  ],
  [
    [
      `${BASELINE} (baseline)`,
      fmt.ms(baseline.firstRenderMs),
      "1.00×",
      fmt.ms(baseline.serverMs),
      fmt.int(baseline.htmlBytes),
      String(baseline.requests),
      fmt.int(baseline.transferBytes),
      fmt.int(baseline.decodedBytes),
    ],
    ...results.map((r) => [
      r.path,
      fmt.ms(r.firstRenderMs),
      fmt.ratio(r.firstRenderMs / baseline.firstRenderMs),
      fmt.ms(r.serverMs),
      fmt.int(r.htmlBytes),
      String(r.requests),
      fmt.int(r.transferBytes),
      fmt.int(r.decodedBytes),
    ]),
  ],
)}
`;
writeSection("console", body);
