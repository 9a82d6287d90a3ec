// The preference centre in a real browser, with JavaScript off: the system's Chromium, driven by
// playwright-core, against a fresh `wrangler dev`. Opens the real link of a sent email, switches
// one topic off with the keyboard, submits, sees it saved, then sees the next email of that topic
// skipped (`topic_unsubscribed`) while another topic's email is sent. Checks labels and contrast.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { freePort, startDevServer, TMP_DIR } from "../bench/lib/dev-server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const INGEST = { authorization: "Bearer dev-ingest-key", "content-type": "application/json" };
const ADMIN = { authorization: "Bearer dev-admin-key" };

let server;
let browser;
let userDataDir;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const port = await freePort();
  // Links in emails point at this server, as PUBLIC_BASE_URL does in production.
  server = await startDevServer("browser-preferences", { port, vars: { PUBLIC_BASE_URL: `http://127.0.0.1:${port}` } });
  userDataDir = mkdtempSync(path.join(os.tmpdir(), "hogsend-chromium-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    javaScriptEnabled: false,
    viewport: { width: 900, height: 900 },
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function sendEmail(baseUrl, body) {
  const res = await fetch(`${baseUrl}/v1/emails`, { method: "POST", headers: INGEST, body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return res.json();
}

/** The email once the queue consumer has settled it. */
async function settled(baseUrl, emailId) {
  for (let i = 0; i < 100; i++) {
    const email = await (await fetch(`${baseUrl}/v1/admin/emails/${emailId}`, { headers: ADMIN })).json();
    if (email.status !== "queued") return email;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`email ${emailId} was never sent`);
}

/** WCAG relative-luminance contrast of an element's text against the card behind it. */
function contrastOf(element) {
  const rgb = (css) =>
    css
      .match(/[\d.]+/g)
      .slice(0, 3)
      .map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let bgEl = element;
  let bg = getComputedStyle(bgEl).backgroundColor;
  while (bg === "rgba(0, 0, 0, 0)" && bgEl.parentElement) {
    bgEl = bgEl.parentElement;
    bg = getComputedStyle(bgEl).backgroundColor;
  }
  const [a, b] = [lum(rgb(getComputedStyle(element).color)), lum(rgb(bg))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

test("a sent email's link opens the preference centre; switching a topic off skips that topic's next email only", async () => {
  const { baseUrl } = server;
  const userId = `browser_${Date.now()}`;
  const ingest = await fetch(`${baseUrl}/v1/ingest`, {
    method: "POST",
    headers: INGEST,
    body: JSON.stringify({ event: "profile", userId, userEmail: `${userId}@example.com` }),
  });
  assert.equal(ingest.status, 202);
  const news = { headline: "Topics are here", body: "Pick what you get." };
  const first = await sendEmail(baseUrl, { template: "product-update", userId, data: news });
  const sent = await settled(baseUrl, first.emailId);
  assert.equal(sent.status, "sent");
  const link = sent.text.match(/Unsubscribe: (\S+)/)[1];
  assert.ok(link.startsWith(`${baseUrl}/v1/email/unsubscribe?token=`), link);

  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(link);
  await page.getByRole("heading", { name: "Email preferences" }).waitFor();
  const updates = page.getByLabel("Product updates");
  assert.equal(await updates.isChecked(), true);
  assert.equal(await page.getByLabel("Weekly digest").isChecked(), false);
  for (const input of await page.locator('input[type="checkbox"]').all()) {
    assert.equal(await input.evaluate((el) => el.labels.length), 1, "every checkbox has its label");
  }
  for (const selector of ["h1", "label", ".hint", "button.primary", "button.secondary"]) {
    const ratio = await page.locator(selector).first().evaluate(contrastOf);
    assert.ok(ratio >= 4.5, `${selector}: contrast ${ratio.toFixed(2)} is under 4.5:1`);
  }

  // Keyboard only: focus the topic, Space to untick, Enter on the Save button.
  await updates.focus();
  await page.keyboard.press("Space");
  assert.equal(await updates.isChecked(), false);
  await page.getByRole("button", { name: "Save preferences" }).focus();
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  await page.getByRole("status").filter({ hasText: "Your preferences are saved." }).waitFor();
  assert.equal(await page.getByLabel("Product updates").isChecked(), false);
  assert.equal(await page.getByLabel("Getting started").isChecked(), true);
  mkdirSync(TMP_DIR, { recursive: true });
  await page.screenshot({ path: path.join(TMP_DIR, "preference-centre.png"), fullPage: true });

  // Reloading the link shows the saved state, from D1.
  await page.goto(link);
  assert.equal(await page.getByLabel("Product updates").isChecked(), false);

  const next = await sendEmail(baseUrl, { template: "product-update", userId, data: news });
  assert.deepEqual({ status: next.status, reason: next.reason }, { status: "skipped", reason: "topic_unsubscribed" });
  const other = await sendEmail(baseUrl, { template: "welcome", userId });
  assert.equal(other.status, "queued");
  assert.equal((await settled(baseUrl, other.emailId)).status, "sent");
});
