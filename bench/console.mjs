// The console's pages: time to first render (first contentful paint in Chromium) and bytes
// transferred per page, on a database seeded with N contacts and M events.
//   npm run bench:console                                   (2,000 contacts, 20,000 events)
//   npm run bench:console -- --contacts 100000 --events 1000000
// Seeds D1 directly (INSERT … SELECT over a recursive CTE, 100k rows per statement) after the
// migrations; each page is loaded with the browser cache off, three times, and the median kept.
import { chromium } from "playwright-core";
import { assertNode22, d1Query, startDevServer } from "./lib/dev-server.mjs";

assertNode22();
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CONTACTS = arg("contacts", 2000);
const EVENTS = arg("events", 20000);
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

const server = await startDevServer("bench-console", { port: Number(process.env.BENCH_PORT) || undefined });
try {
  const started = Date.now();
  await seed(server.persistTo);
  console.log(`seeded ${CONTACTS} contacts, ${EVENTS} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
  console.log("| page | first render ms | server ms | HTML bytes | requests | bytes transferred | bytes decoded |");
  console.log("|---|---|---|---|---|---|---|");
  for (const path of PAGES) {
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await measure(page, `${server.baseUrl}${path}`));
    const m = (key) => median(runs.map((r) => r[key]));
    const cells = ["firstRenderMs", "serverMs", "htmlBytes", "requests", "transferBytes", "decodedBytes"].map(m);
    console.log(`| ${path} | ${cells.join(" | ")} |`);
  }
  await browser.close();
} finally {
  await server.stop();
}
