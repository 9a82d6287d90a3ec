// /docs in a real browser: the system's Chromium, driven by playwright-core (no browser download),
// against a fresh `wrangler dev`. Asserts the reference renders every operation of /openapi.json,
// that a try-it request to /v1/health answers 200 through Scalar's UI, and that the page never
// asks another origin for anything. Prints the page's transfer size and time to first render.
// `UPDATE_SCREENSHOT=1 npm run test:browser` also rewrites docs/images/api-reference.png.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, startDevServer, TMP_DIR } from "../bench/lib/dev-server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const METHODS = ["get", "post", "put", "patch", "delete"];

let server;
let context;
let userDataDir;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  server = await startDevServer("browser-docs");
  userDataDir = mkdtempSync(path.join(os.tmpdir(), "hogsend-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 900 },
  });
});

after(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** Every operation of the document, as Scalar's sidebar names them (their summaries). */
async function operationsOf(baseUrl) {
  const doc = await (await fetch(`${baseUrl}/openapi.json`)).json();
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ method: m, path: p, summary: item[m].summary })),
  );
}

test("/docs renders every operation, tries /v1/health, and stays on its origin", async () => {
  const { baseUrl } = server;
  const origin = new URL(baseUrl).origin;
  const operations = await operationsOf(baseUrl);
  assert.ok(operations.length > 40, `only ${operations.length} operations in /openapi.json`);

  const page = context.pages()[0] ?? (await context.newPage());
  const requests = [];
  page.on("request", (request) => requests.push(request));
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const started = performance.now();
  await page.goto(`${baseUrl}/docs`);
  const sidebar = page.locator("aside.t-doc__sidebar");
  await sidebar.getByText(operations[0].summary, { exact: true }).waitFor({ state: "visible", timeout: 60_000 });
  const firstRenderMs = Math.round(performance.now() - started);

  // The sidebar lists every operation once (its entries end in the method badge; models do not).
  const listed = await sidebar.locator("li a").evaluateAll((links) =>
    // biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (method badge on its own line)
    links.filter((a) => /\n(GET|POST|PUT|PATCH|DEL|DELETE)\s*$/.test(a.innerText)).map((a) => a.innerText),
  );
  assert.equal(listed.length, operations.length, `sidebar lists ${listed.length} of ${operations.length}`);
  for (const op of operations) {
    assert.ok(
      listed.some((text) => text.startsWith(op.summary)),
      `${op.method.toUpperCase()} ${op.path} (${op.summary}) is not listed`,
    );
  }

  if (process.env.UPDATE_SCREENSHOT === "1") {
    mkdirSync(path.join(ROOT, "docs", "images"), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, "docs", "images", "api-reference.png") });
  }

  // Try it: the health operation's "Test Request" opens Scalar's client; Send; the answer is 200.
  const health = page.locator('section[id$="/GET/v1/health"]');
  await health.getByRole("button", { name: /Test Request/ }).click();
  const client = page.getByRole("dialog");
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/health");
  await client.getByRole("button", { name: /^Send/ }).first().click();
  assert.equal((await answered).status(), 200);
  await client.getByText("200 OK").first().waitFor({ state: "visible", timeout: 10_000 });
  await client.getByText('"status": "ok"').first().waitFor({ state: "visible", timeout: 10_000 });
  mkdirSync(TMP_DIR, { recursive: true });
  await page.screenshot({ path: path.join(TMP_DIR, "api-reference-try-it.png") });

  // Nothing left the origin: not a font, not telemetry, not a CDN.
  const foreign = requests
    .map((r) => r.url())
    .filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
  assert.deepEqual(foreign, [], "requests to other origins");
  assert.deepEqual(pageErrors, []);

  // Transfer: bodies as sent (wrangler dev compresses the bundle); decoded: as the browser used them.
  let transferBytes = 0;
  let decodedBytes = 0;
  for (const request of requests) {
    const response = await request.response();
    if (!response) continue;
    transferBytes += (await request.sizes()).responseBodySize;
    decodedBytes += (await response.body()).length;
  }
  const docsLoad = requests.filter((r) => new URL(r.url()).pathname !== "/v1/health");
  console.log(
    `api reference: ${operations.length} operations listed; first render (operation list visible) ${firstRenderMs} ms; ` +
      `${docsLoad.length} requests for the page, ${(transferBytes / 1024).toFixed(0)} KiB transferred ` +
      `(${(decodedBytes / 1024).toFixed(0)} KiB decoded) ` +
      `(${requests.map((r) => new URL(r.url()).pathname).join(", ")})`,
  );
});
