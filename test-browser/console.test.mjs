// The console in a real browser (issue 28): the system's Chromium, driven by playwright-core,
// against one fresh `wrangler dev`. Signs in with the admin key, uploads a CSV through the page
// (preview, dry run, import) and watches it complete, opens a person, replays an event (dry run,
// then for real), cancels a running import, signs out. No console errors, no failed requests.
// Screenshots of each page go to docs/images/console-*.png (docs/console.md shows them).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, startDevServer } from "../bench/lib/dev-server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const ADMIN = { authorization: "Bearer dev-admin-key" };
const INGEST = { authorization: "Bearer dev-ingest-key", "content-type": "application/json" };
const IMAGES = path.join(ROOT, "docs", "images");

let server;
let context;
let userDataDir;
const problems = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  server = await startDevServer("browser-console", {
    port: Number(process.env.CONSOLE_TEST_PORT) || undefined,
    // Local D1 runs in the Worker's workerd, so a request waits while a run of chunks commits: one
    // chunk per invocation lets the cancel in between chunks, as it gets in on Cloudflare.
    vars: { IMPORT_CHUNKS_PER_INVOCATION: "1" },
  });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), "hogsend-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  context.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  context.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
});

after(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

const shot = (page, name) => page.screenshot({ path: path.join(IMAGES, `console-${name}.png`), fullPage: false });

/**
 * Starts an import big enough to take many chunks and answers its id once the job exists (the
 * upload's answer is awaited by the caller, after the cancel).
 */
async function startBigImport(baseUrl, rows) {
  const fileName = `big-${Date.now()}.csv`;
  const lines = ["externalId,email,plan"];
  for (let i = 0; i < rows; i++) lines.push(`big_${i},big_${i}@example.com,free`);
  const upload = fetch(`${baseUrl}/v1/admin/contacts/import?format=csv&fileName=${fileName}`, {
    method: "POST",
    headers: { ...ADMIN, "content-type": "text/csv" },
    body: `${lines.join("\n")}\n`,
  });
  for (let i = 0; i < 200; i++) {
    const { imports } = await (await fetch(`${baseUrl}/v1/admin/contacts/imports?limit=5`, { headers: ADMIN })).json();
    const job = imports.find((j) => j.fileName === fileName);
    if (job) return { jobId: job.id, upload };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the import job never appeared");
}

test("sign in, import a CSV, open a person, replay an event, cancel an import, sign out", async () => {
  const { baseUrl } = server;
  const page = context.pages()[0] ?? (await context.newPage());
  const started = Date.now();
  const step = (name) => process.env.CONSOLE_TEST_TIMING && console.log(`${name}: ${Date.now() - started} ms`);
  const runId = Date.now().toString(36);

  // Sign in (keyboard: the skip link is the first stop on a signed-in page).
  await page.goto(`${baseUrl}/console`);
  await page.getByLabel("API key").fill("dev-admin-key");
  await shot(page, "sign-in");
  await Promise.all([page.waitForURL(`${baseUrl}/console`), page.getByRole("button", { name: "Sign in" }).click()]);
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");

  step("signed in");
  // A CSV picked in the page: preview, dry run, then the import, watched to `completed`.
  const csv = [
    "externalId,email,plan",
    ...Array.from({ length: 20 }, (_, i) => `ui_${runId}_${i},ui_${runId}_${i}@example.com,pro`),
  ];
  await page.getByRole("link", { name: "Imports" }).click();
  await page.getByRole("link", { name: "New import" }).click();
  await page
    .getByLabel("Contacts file")
    .setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(`${csv.join("\n")}\n`) });
  await page.getByRole("cell", { name: `ui_${runId}_0@example.com` }).waitFor();
  await page.getByRole("button", { name: "Dry run" }).click();
  await page.getByRole("status").filter({ hasText: "Dry run completed: would create 20" }).waitFor({ timeout: 20_000 });
  await shot(page, "import-new");
  await Promise.all([
    page.waitForURL(/\/console\/imports\/[0-9a-f-]+$/),
    page.getByRole("button", { name: "Import", exact: true }).click(),
  ]);
  await page.locator('.progress[data-status="completed"]').waitFor({ timeout: 20_000 });
  assert.match(await page.locator(".status-text").textContent(), /20 imported, 0 failed/);
  await shot(page, "import");

  step("imported");
  // Open one of those people from a search.
  await page.getByRole("link", { name: "People" }).click();
  await page.getByLabel("Email or user id contains").fill(`ui_${runId}_3`);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: `ui_${runId}_3` }).click();
  await page.getByRole("heading", { name: `Person ui_${runId}_3` }).waitFor();
  await page.getByText(`ui_${runId}_3@example.com`).first().waitFor();
  await shot(page, "person");

  step("person");
  // An event: its detail, a replay dry run, then the replay.
  const userId = `replay_${runId}`;
  const ingest = await fetch(`${baseUrl}/v1/ingest`, {
    method: "POST",
    headers: INGEST,
    body: JSON.stringify({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` }),
  });
  assert.equal(ingest.status, 202);
  await page.goto(`${baseUrl}/console/events?userId=${userId}`);
  await shot(page, "events");
  await page.getByRole("link", { name: "user:signed_up" }).click();
  await page.getByRole("button", { name: "Replay dry run" }).click();
  await page.getByRole("heading", { name: "Replay dry run" }).waitFor();
  await shot(page, "replay-dry-run");
  await page.getByRole("button", { name: "Replay 1 event(s)" }).click();
  await page.getByRole("status").filter({ hasText: "Replayed 1 event(s)" }).waitFor();

  step("replayed");
  // A running import, cancelled from its page.
  const { jobId, upload } = await startBigImport(baseUrl, 100_000);
  await page.goto(`${baseUrl}/console/imports/${jobId}`);
  await page.getByRole("button", { name: "Cancel import" }).click();
  await page.locator('.progress[data-status="cancelled"]').waitFor({ timeout: 60_000 });
  assert.equal((await upload).status, 202);
  const job = await (await fetch(`${baseUrl}/v1/admin/contacts/import/${jobId}`, { headers: ADMIN })).json();
  assert.equal(job.status, "cancelled");
  assert.ok(job.processedRows < 100_000, `cancelled part-way (${job.processedRows} rows written)`);

  step("cancelled");
  // The other pages, at 1280 px, and the overview at 390 px.
  for (const [name, link] of [
    ["overview", "Overview"],
    ["imports", "Imports"],
    ["emails", "Emails"],
    ["journeys", "Journeys"],
    ["jobs", "Jobs"],
    ["dead-letters", "Dead letters"],
  ]) {
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: link }).click();
    await page.getByRole("heading", { name: link, exact: true }).waitFor();
    await shot(page, name);
    step(name);
  }
  // A journey's own page: its funnel over every enrollment.
  await page.goto(`${baseUrl}/console/journeys/activation-welcome`);
  await page.getByText("Funnel: enrolled, then each email step").waitFor();
  await shot(page, "journey");
  step("journey");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${baseUrl}/console`);
  assert.equal(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    true,
    "no sideways scroll at 390 px",
  );
  await shot(page, "overview-390");
  await page.setViewportSize({ width: 1280, height: 900 });
  step("390");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to the Hogsend console" }).waitFor();
  step("signed out");
  await page.goto(`${baseUrl}/console/people`);
  assert.match(page.url(), /\/console\/sign-in$/);
  assert.deepEqual(problems, []);
  step("end");
});
