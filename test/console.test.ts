// The console (/console): sign-in and its session cookie, CSRF, scopes and audit through the same
// admin routes, and the pages people read. The real browser run is test-browser/console.test.mjs.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deadLetterQueue, QUEUES } from "../src/lib/queues";
import { signSession, verifySession } from "../src/lib/session-token";
import { adminAuth, call, ingestAuth, queuedEmail, unique } from "./helpers";
import { deliver } from "./queues";

type Browser = { cookies: Map<string, string>; csrf: string };

const cookieHeader = (b: Browser) => [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");

function keep(b: Browser, res: Response) {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const [name, value] = pair!.split("=") as [string, string];
    if (value === "" || /max-age=0/i.test(line)) b.cookies.delete(name);
    else b.cookies.set(name, value);
  }
}

/** A request as a browser with this cookie jar would send it (no Bearer key). */
async function visit(
  b: Browser,
  path: string,
  init: RequestInit & { form?: Record<string, string> } = {},
  base = "http://localhost",
) {
  const headers = new Headers(init.headers);
  headers.set("cookie", cookieHeader(b));
  let body = init.body;
  if (init.form) {
    headers.set("content-type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(init.form).toString();
  }
  const res = await exports.default.fetch(
    new Request(`${base}${path}`, { ...init, headers, body, redirect: "manual" }),
  );
  keep(b, res);
  const csrf = res.headers.get("content-type")?.includes("text/html")
    ? (await res.clone().text()).match(/name="csrf-token" content="([^"]+)"/)?.[1]
    : undefined;
  if (csrf) b.csrf = csrf;
  return res;
}

async function signIn(key: string, base?: string): Promise<{ browser: Browser; res: Response }> {
  const browser: Browser = { cookies: new Map(), csrf: "" };
  const page = await visit(browser, "/console/sign-in", {}, base);
  const token = (await page.text()).match(/name="_signin" value="([^"]+)"/)![1]!;
  const res = await visit(browser, "/console/sign-in", { method: "POST", form: { _signin: token, key } }, base);
  return { browser, res };
}

async function newKey(scopes: string[]) {
  const res = await call("/v1/admin/api-keys", {
    method: "POST",
    headers: adminAuth(),
    json: { name: unique("console"), scopes },
  });
  return (await res.json()) as { id: string; key: string };
}

async function person() {
  const userId = unique("console_user");
  const res = await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "user:signed_up", userId, userEmail: `${userId}@example.com`, properties: { plan: "pro" } },
  });
  expect(res.status).toBeLessThan(300);
  return userId;
}

async function auditEntries(action: string, keyId: string) {
  const res = await call(`/v1/admin/audit-log?action=${action}&keyId=${keyId}`, { headers: adminAuth() });
  return ((await res.json()) as { entries: Array<{ outcome: string; status: number; keyId: string }> }).entries;
}

describe("console sign-in and session", () => {
  it("a key signs in to an HttpOnly, SameSite=Strict, signed, expiring cookie naming the key id, not the key", async () => {
    const { res } = await signIn(env.ADMIN_API_KEY);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console");
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("hs_console="))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/console/);
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).not.toMatch(/Secure/); // plain-http local dev
    expect(cookie).not.toContain(env.ADMIN_API_KEY);
    const claims = await verifySession([env.TOKEN_SIGNING_SECRET], cookie.split(";")[0]!.slice("hs_console=".length));
    expect(claims).toMatchObject({ sub: "bootstrap-admin", scopes: ["admin"] });
    expect(JSON.stringify(claims)).not.toContain(env.ADMIN_API_KEY);

    const https = await signIn(env.ADMIN_API_KEY, "https://console.example");
    expect(https.res.headers.getSetCookie().find((line) => line.startsWith("hs_console="))).toMatch(/Secure/);
  });

  it("refuses a wrong key, an ingest-only key and a sign-in posted without the form's token", async () => {
    expect((await signIn("hsk_wrong")).res.status).toBe(401);
    expect(await (await signIn(env.INGEST_API_KEY)).res.text()).toContain("can only ingest");
    const browser: Browser = { cookies: new Map(), csrf: "" };
    const res = await visit(browser, "/console/sign-in", { method: "POST", form: { key: env.ADMIN_API_KEY } });
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie().some((line) => line.startsWith("hs_console="))).toBe(false);
  });

  it("pages need a session; every page has CSP 'self' and is not cached; sign-out ends the session", async () => {
    const anonymous: Browser = { cookies: new Map(), csrf: "" };
    const refused = await visit(anonymous, "/console/people");
    expect(refused.status).toBe(303);
    expect(refused.headers.get("location")).toBe("/console/sign-in");
    const { browser } = await signIn(env.ADMIN_API_KEY);
    const page = await visit(browser, "/console/people");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const html = await page.text();
    expect(html).toContain('<nav aria-label="Console">');
    expect(html).not.toMatch(/<script(?![^>]*src=)/); // no inline script
    const out = await visit(browser, "/console/sign-out", { method: "POST", form: { _csrf: browser.csrf } });
    expect(out.headers.get("location")).toBe("/console/sign-in");
    expect((await visit(browser, "/console/people")).status).toBe(303);
  });

  it("a revoked stored key stops working at the next 60 s re-check", async () => {
    const { id, key } = await newKey(["read"]);
    const { browser } = await signIn(key);
    expect((await visit(browser, "/console/people")).status).toBe(200);
    await call(`/v1/admin/api-keys/${id}`, { method: "DELETE", headers: adminAuth() });
    // The same session, last checked 61 s ago (what the cookie says after a minute).
    const claims = (await verifySession([env.TOKEN_SIGNING_SECRET], browser.cookies.get("hs_console")!))!;
    browser.cookies.set("hs_console", await signSession({ ...claims, vat: claims.vat - 61 }, env.TOKEN_SIGNING_SECRET));
    const res = await visit(browser, "/console/people");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/sign-in");
  });

  it("a forged or tampered cookie is no session", async () => {
    const browser: Browser = { cookies: new Map([["hs_console", "eyJhbGciOiJIUzI1NiJ9.e30.x"]]), csrf: "" };
    expect((await visit(browser, "/console")).status).toBe(303);
  });
});

describe("console actions go through the admin routes", () => {
  it("a form without the session's CSRF token changes nothing (403)", async () => {
    const { browser } = await signIn(env.ADMIN_API_KEY);
    const userId = await person();
    const res = await visit(browser, `/console/people/${userId}/erase`, { method: "POST", form: { confirm: userId } });
    expect(res.status).toBe(403);
    const forged = await visit(browser, `/console/people/${userId}/erase`, {
      method: "POST",
      form: { confirm: userId, _csrf: "not-the-token" },
    });
    expect(forged.status).toBe(403);
    const api = await visit(browser, "/console/api/v1/admin/journeys/backfills/x/cancel", { method: "POST" });
    expect(api.status).toBe(403);
    expect((await call(`/v1/admin/contacts/${userId}`, { headers: adminAuth() })).status).toBe(200);
  });

  it("a read key sees the person but can't erase: the API's 403 inline, audited as its key", async () => {
    const reader = await newKey(["read"]);
    const userId = await person();
    const { browser } = await signIn(reader.key);
    const page = await visit(browser, `/console/people/${userId}`);
    const html = await page.text();
    expect(html).toContain(`${userId}@example.com`);
    expect(html).toContain("&quot;plan&quot;: &quot;pro&quot;");
    expect(html).toContain("user:signed_up");
    const res = await visit(browser, `/console/people/${userId}/erase`, {
      method: "POST",
      form: { confirm: userId, _csrf: browser.csrf },
    });
    expect(res.status).toBe(303);
    expect(await (await visit(browser, `/console/people/${userId}`)).text()).toContain(
      "This key lacks the `admin` scope this operation needs",
    );
    expect((await call(`/v1/admin/contacts/${userId}`, { headers: adminAuth() })).status).toBe(200);
    expect((await auditEntries("eraseContact", reader.id))[0]).toMatchObject({ outcome: "forbidden", status: 403 });
  });

  it("an admin erases only after typing the user id; the audit entry names the signed-in key", async () => {
    const admin = await newKey(["admin"]);
    const userId = await person();
    const { browser } = await signIn(admin.key);
    await visit(browser, `/console/people/${userId}`);
    await visit(browser, `/console/people/${userId}/erase`, {
      method: "POST",
      form: { confirm: "nope", _csrf: browser.csrf },
    });
    expect((await call(`/v1/admin/contacts/${userId}`, { headers: adminAuth() })).status).toBe(200);
    const res = await visit(browser, `/console/people/${userId}/erase`, {
      method: "POST",
      form: { confirm: userId, _csrf: browser.csrf },
    });
    expect(res.headers.get("location")).toBe("/console/people");
    expect(await (await visit(browser, "/console/people")).text()).toContain(`${userId} was erased.`);
    expect((await call(`/v1/admin/contacts/${userId}`, { headers: adminAuth() })).status).toBe(404);
    expect((await auditEntries("eraseContact", admin.id))[0]).toMatchObject({ outcome: "ok", status: 200 });
  });

  it("the pass-through answers as the admin route does, with the session's scopes", async () => {
    const reader = await newKey(["read"]);
    const { browser } = await signIn(reader.key);
    await visit(browser, "/console");
    const listed = await visit(browser, "/console/api/v1/admin/contacts/imports?limit=1");
    expect(listed.status).toBe(200);
    expect(await listed.json()).toHaveProperty("imports");
    const refused = await visit(browser, "/console/api/v1/admin/contacts/import?format=csv", {
      method: "POST",
      headers: { "x-csrf-token": browser.csrf, "content-type": "text/csv" },
      body: "externalId\nx",
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "FORBIDDEN" });
  });

  it("Jobs lists broadcasts, and an operate key cancels a scheduled one there", async () => {
    const name = unique("console_broadcast");
    const created = await call("/v1/admin/broadcasts", {
      method: "POST",
      headers: adminAuth(),
      json: {
        name,
        template: "product-update",
        topic: "product-updates",
        data: { headline: "Later", body: "Scheduled." },
        filter: { where: [{ property: "cohort", op: "eq", value: name }] },
        sendAt: new Date(Date.now() + 3600_000).toISOString(),
      },
    });
    const { broadcastId } = (await created.json()) as { broadcastId: string };
    const operator = await newKey(["operate"]);
    const { browser } = await signIn(operator.key);
    const jobs = await (await visit(browser, "/console/jobs")).text();
    expect(jobs).toContain(name);
    expect(jobs).toContain(`/console/jobs/broadcasts/${broadcastId}/cancel`);
    const res = await visit(browser, `/console/jobs/broadcasts/${broadcastId}/cancel`, {
      method: "POST",
      form: { _csrf: browser.csrf },
    });
    expect(res.status).toBe(303);
    expect(await (await visit(browser, "/console/jobs")).text()).toContain("Broadcast cancelled.");
    const after = await call(`/v1/admin/broadcasts/${broadcastId}`, { headers: adminAuth() });
    expect(await after.json()).toMatchObject({ status: "cancelled" });
  });

  it("Dead letters: an operate key retries one there, once; the page then shows it retried", async () => {
    const { id: emailId } = await queuedEmail();
    const messageId = crypto.randomUUID();
    await deliver(deadLetterQueue(QUEUES.emailSends.name), [{ id: messageId, attempts: 6, body: { emailId } }]);
    const { id } = (await env.DB.prepare("SELECT id FROM dead_letters WHERE message_id = ?")
      .bind(messageId)
      .first<{ id: string }>())!;
    const operator = await newKey(["operate"]);
    const { browser } = await signIn(operator.key);
    const retryPath = `/console/dead-letters/${id}/retry`;
    expect(await (await visit(browser, "/console/dead-letters")).text()).toContain(retryPath);

    const res = await visit(browser, retryPath, { method: "POST", form: { _csrf: browser.csrf } });
    expect(res.status).toBe(303);
    const page = await (await visit(browser, "/console/dead-letters")).text();
    expect(page).toContain(`Retried: emailId `);
    expect(page).not.toContain(retryPath);
    const again = await visit(browser, retryPath, { method: "POST", form: { _csrf: browser.csrf } });
    expect(again.status).toBe(303);
    expect(await (await visit(browser, "/console/dead-letters")).text()).toContain(
      `Dead letter ${id} was already retried`,
    );
    const entries = await auditEntries("retryDeadLetter", operator.id);
    expect(entries.map((e) => e.status).sort()).toEqual([202, 409]);
  });

  it("every page renders for an admin session", async () => {
    const { browser } = await signIn(env.ADMIN_API_KEY);
    for (const path of [
      "/console",
      "/console/people",
      "/console/imports",
      "/console/new-import",
      "/console/events",
      "/console/emails",
      "/console/journeys",
      "/console/journeys/activation-welcome",
      "/console/jobs",
      "/console/dead-letters",
    ]) {
      const res = await visit(browser, path);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toContain('<main id="main"');
    }
    expect(await (await visit(browser, "/console")).text()).toContain("Events per day (UTC)");
    const journey = await (await visit(browser, "/console/journeys/activation-welcome")).text();
    expect(journey).toContain("Funnel: enrolled, then each email step");
    expect(journey).toContain("Running now, by what they wait for");
  });
});
