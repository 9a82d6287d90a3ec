import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { createDb } from "../src/db/client";
import { addTracking } from "../src/emails/tracking";
import { signTrackingToken, verifyTrackingToken } from "../src/lib/tracking-tokens";
import { recordEngagement } from "../src/pipeline/engagement";
import { resendProvider } from "../src/providers/email/resend-api";
import { type DeliveryDeps, deliverEmail } from "../src/services/emails";
import { parseScannerRanges } from "../src/services/engagement-machine";
import { firstEventSince } from "../src/services/journey-reads";
import { adminGet, adminPost, call, expectErrorShape, ingestAuth, queuedEmail, testHash, unique } from "./helpers";

const BASE = "https://mail.example.com";
const CHROME =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const db = createDb(env.DB);

/** A fake Resend API at the provider boundary: what the provider was asked to send. */
function fakeResend() {
  const sent: Array<{ html: string }> = [];
  const fetcher = (async (_url: string, init: RequestInit) => {
    sent.push(JSON.parse(init.body as string));
    return new Response(JSON.stringify({ id: `re_${sent.length}` }), { status: 200 });
  }) as typeof fetch;
  const deps: DeliveryDeps = {
    db,
    hash: testHash,
    provider: resendProvider("re_test_key", fetcher),
    from: "Hogsend <hello@example.com>",
    publicBaseUrl: BASE,
    tokenSecret: env.TOKEN_SIGNING_SECRET,
    maxPerAddressPerDay: 10,
    webhookQueue: env.WEBHOOK_DELIVERIES_QUEUE,
  };
  return { sent, deps };
}

/** Sends it through the fake provider and returns the HTML the provider got. */
async function sent(template: string, props: Record<string, unknown>, journey: string | null = null) {
  const email = await queuedEmail(template, props, journey);
  const resend = fakeResend();
  await deliverEmail(resend.deps, email.id);
  return { ...email, html: resend.sent[0]!.html };
}

/** As if sent a minute ago: clicks within seconds of delivery are a scanner's. */
const ageEmail = (id: string) =>
  env.DB.prepare("UPDATE emails SET sent_at = sent_at - 60000 WHERE id = ?").bind(id).run();

const trackedLinks = (html: string) =>
  [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!).filter((href) => href.includes("/v1/t/c/"));
const pixelOf = (html: string) => /src="([^"]+\/v1\/t\/o\/[^"]+)"/.exec(html)![1]!;
const pathOf = (url: string) => new URL(url).pathname;
const hit = (url: string, userAgent = CHROME) =>
  call(pathOf(url), { headers: { "user-agent": userAgent }, redirect: "manual" });

type Row = { event: string; user_id: string; anonymous: number; properties: string };
const eventsOf = async (emailId: string) =>
  (
    await env.DB.prepare(
      "SELECT event, user_id, anonymous, properties FROM events WHERE idempotency_key LIKE ? ORDER BY received_at",
    )
      .bind(`engagement:${emailId}:%`)
      .all<Row>()
  ).results.map((row) => ({ ...row, properties: JSON.parse(row.properties) as Record<string, unknown> }));

/** The rows once `n` are there (the hit is recorded after the answer, in waitUntil). */
async function waitForEvents(emailId: string, n: number) {
  for (let i = 0; i < 100; i++) {
    const rows = await eventsOf(emailId);
    if (rows.length >= n) return rows;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  throw new Error(`expected ${n} engagement events of ${emailId}, got ${(await eventsOf(emailId)).length}`);
}

describe("engagement metrics", () => {
  // First in the file: this file's storage holds only these emails, so the overview is exact.
  it("counts delivered, human opens and clicks per journey and template, machines left out", async () => {
    const journey = "activation-welcome";
    const emails = await Promise.all(
      [1, 2, 3].map(() => sent("product-update", { headline: "h", body: "b", url: "https://example.com/x" }, journey)),
    );
    for (const email of emails) await ageEmail(email.id);
    await hit(pixelOf(emails[0]!.html));
    await hit(pixelOf(emails[1]!.html));
    await hit(pixelOf(emails[2]!.html), "Mozilla/5.0"); // Apple Mail Privacy Protection
    await hit(trackedLinks(emails[0]!.html)[0]!);
    await waitForEvents(emails[0]!.id, 2);
    await waitForEvents(emails[1]!.id, 1);
    await waitForEvents(emails[2]!.id, 1);

    const res = await adminGet("/v1/admin/metrics/engagement?days=7");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: Array<Record<string, unknown>> };
    expect(body.rows.find((row) => row.journey === journey && row.template === "product-update")).toEqual({
      journey,
      template: "product-update",
      sent: 3,
      delivered: 3,
      opened: 2,
      clicked: 1,
      openRate: 2 / 3,
      clickRate: 1 / 3,
    });
    const overview = (await (await adminGet("/v1/admin/metrics/overview")).json()) as Record<string, number>;
    expect(overview).toMatchObject({
      emailsSent30d: 3,
      emailsDelivered30d: 3,
      emailsOpened30d: 2,
      emailsClicked30d: 1,
      openRate30d: 2 / 3,
      clickRate30d: 1 / 3,
    });
  });
});

describe("tracked links in a sent email", () => {
  it("rewrites http links to the signed redirect and adds the pixel; the preference link stays", async () => {
    const target = "https://example.com/changelog?a=1&b=2";
    const { html } = await sent("product-update", { headline: "New", body: "Things", url: target });
    expect(html).not.toContain(`href="${target.replace("&", "&amp;")}"`);
    expect(trackedLinks(html)).toHaveLength(1);
    expect(trackedLinks(html)[0]).toMatch(/^https:\/\/mail\.example\.com\/v1\/t\/c\/[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(html).toContain(`href="${BASE}/v1/email/unsubscribe?token=`);
    expect(pixelOf(html)).toMatch(/^https:\/\/mail\.example\.com\/v1\/t\/o\//);
    expect(html).toMatch(/<img src="[^"]+" width="1" height="1" alt=""[^>]*><\/body>/);
  });

  it("follows the template's switches: password-reset keeps its link untracked", async () => {
    const resetUrl = "https://app.example.com/reset?token=secret";
    const { html } = await sent("password-reset", { resetUrl });
    expect(html).toContain(`href="${resetUrl}"`);
    expect(trackedLinks(html)).toHaveLength(0);
    expect(html).toContain("/v1/t/o/");
  });

  it("leaves mailto:, tel: and anchors alone, and tracks nothing when both switches are off", async () => {
    const html =
      '<a href="mailto:a@b.c">m</a><a href="tel:1">t</a><a href="#x">a</a><a href="http://e.com/">e</a><a href="https://e.com/ü">u</a>';
    const options = { emailId: "e1", baseUrl: BASE, secret: "s", keep: () => false };
    const tracked = await addTracking(html, { ...options, opens: true, clicks: true });
    expect(tracked).toContain('href="mailto:a@b.c"');
    expect(tracked).toContain('href="tel:1"');
    expect(tracked).toContain('href="#x"');
    expect(tracked).not.toContain('href="http://e.com/"');
    expect(await addTracking(html, { ...options, opens: false, clicks: false })).toBe(html);
    // A non-ASCII target is signed percent-encoded: a Location header holds only ASCII.
    const token = /href="[^"]+\/v1\/t\/c\/([^"]+)">u</.exec(tracked)![1]!;
    expect((await verifyTrackingToken(["s"], "c", token))?.url).toBe("https://e.com/%C3%BC");
  });
});

describe("the redirect and the pixel", () => {
  it("redirects 302 to the signed target before any D1 work; a tampered or foreign token is a 404", async () => {
    const target = "https://example.com/pricing?plan=pro&x=1";
    const { id, html } = await sent("product-update", { headline: "h", body: "b", url: target });
    const link = trackedLinks(html)[0]!;
    const res = await hit(link);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(target);
    expect(res.headers.get("x-d1-round-trips")).toBe("0");

    const [kid, payload, mac] = pathOf(link).split("/").at(-1)!.split(".");
    const evil = btoa(`${id}\nhttps://evil.example.net/`).replaceAll("=", "");
    for (const token of [
      `${kid}.${evil}.${mac}`,
      `${kid}.${payload}.${mac!.slice(0, -2)}AA`,
      await signTrackingToken("not-our-secret", "c", { emailId: id, url: "https://evil.example.net/" }),
      pathOf(pixelOf(html)).split("/").at(-1)!, // an open token is no click token
    ]) {
      const bad = await call(`/v1/t/c/${token}`, { redirect: "manual" });
      expect(bad.headers.get("location")).toBeNull();
      await expectErrorShape(bad, 404, "NOT_FOUND");
    }
  });

  it("still redirects links signed with the previous secret while rotating", async () => {
    const token = await signTrackingToken(env.TOKEN_SIGNING_SECRET_PREVIOUS, "c", {
      emailId: crypto.randomUUID(),
      url: "https://example.com/old",
    });
    const res = await call(`/v1/t/c/${token}`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://example.com/old");
  });

  it("answers the open pixel: a 43-byte GIF, never cached, no D1 round trip before it", async () => {
    const { html } = await sent("welcome", { name: "Ada" });
    const res = await hit(pixelOf(html));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect(res.headers.get("x-d1-round-trips")).toBe("0");
    expect((await res.arrayBuffer()).byteLength).toBe(43);
  });
});

describe("opens and clicks become events of the contact", () => {
  it("stores email:opened and email:clicked with the email, journey, template and link; repeats are duplicates", async () => {
    const endpoint = await adminPost("/v1/admin/webhooks", {
      url: `https://hooks.example.com/${unique("engagement")}`,
      events: ["email.opened", "email.clicked"],
    });
    expect(endpoint.status).toBe(201);
    const { id: endpointId } = (await endpoint.json()) as { id: string };
    const url = "https://example.com/a";
    const { id, userId, html } = await sent("product-update", { headline: "h", body: "b", url }, "activation-welcome");
    await ageEmail(id);
    await hit(pixelOf(html));
    await hit(trackedLinks(html)[0]!);
    const rows = await waitForEvents(id, 2);
    const common = { emailId: id, journey: "activation-welcome", template: "product-update", machine: false };
    expect(
      rows.map(({ event, user_id, anonymous, properties }) => ({ event, user_id, anonymous, properties })),
    ).toEqual(
      expect.arrayContaining([
        { event: "email:opened", user_id: userId, anonymous: 0, properties: common },
        { event: "email:clicked", user_id: userId, anonymous: 0, properties: { ...common, url } },
      ]),
    );

    const deps = {
      db,
      hash: testHash,
      workflow: env.JOURNEY_WORKFLOW,
      journeyStarts: env.JOURNEY_STARTS_QUEUE,
      webhooks: buildDeps(env).webhooks,
    };
    const again = (kind: "open" | "click", link: string | null) =>
      recordEngagement(deps, { kind, emailId: id, url: link, userAgent: CHROME, ip: null, at: new Date() });
    expect(await again("open", null)).toMatchObject({ duplicate: true, eventId: null });
    expect(await again("click", url)).toMatchObject({ duplicate: true, eventId: null });
    expect(await again("click", "https://example.com/other")).toMatchObject({ duplicate: false });
    expect(await eventsOf(id)).toHaveLength(3);
    // A webhook event per human event the index took as new: the open and the first link's click
    // (the other link, clicked within seconds, is a scanner's walk: stored, but no webhook).
    const { results: outbox } = await env.DB.prepare(
      "SELECT type, payload FROM webhook_messages WHERE endpoint_id = ? AND json_extract(payload, '$.emailId') = ?",
    )
      .bind(endpointId, id)
      .all<{ type: string; payload: string }>();
    expect(outbox.map((row) => [row.type, JSON.parse(row.payload)])).toEqual(
      expect.arrayContaining([
        [
          "email.opened",
          { emailId: id, userId, status: "opened", templateKey: "product-update", journeyKey: "activation-welcome" },
        ],
        ["email.clicked", expect.objectContaining({ emailId: id, status: "clicked", url })],
      ]),
    );
    expect(outbox).toHaveLength(2);
    const contact = await env.DB.prepare("SELECT properties FROM contacts WHERE external_id = ?")
      .bind(userId)
      .first<{ properties: string }>();
    expect(JSON.parse(contact!.properties)).toEqual({}); // the event's properties are not the contact's
  });

  it("reserves the engagement: key prefix: ingest can't pre-empt an open or click", async () => {
    const res = await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "email:opened", userId: unique("forger"), idempotencyKey: "engagement:x:open:h" },
    });
    await expectErrorShape(res, 400, "VALIDATION_ERROR");
  });

  it("records machine traffic apart: Apple MPP, scanners, clicks at delivery; a person's open still counts", async () => {
    const { id, html } = await sent("product-update", { headline: "h", body: "b", url: "https://example.com/m" });
    await hit(trackedLinks(html)[0]!); // seconds after the send
    await call(pathOf(pixelOf(html)), { headers: { "user-agent": CHROME, "cf-connecting-ip": "17.58.1.2" } });
    await waitForEvents(id, 2);
    await ageEmail(id);
    await hit(pixelOf(html), "curl/8.5.0");
    await hit(pixelOf(html));
    const rows = await waitForEvents(id, 3);
    const reasons = rows.map((row) => [row.event, row.anonymous, row.properties.machine, row.properties.machineReason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        ["email:clicked", 1, true, "clicked_soon_after_delivery"],
        ["email:opened", 1, true, "apple_mpp"],
        ["email:opened", 0, false, undefined],
      ]),
    );
    expect(rows).toHaveLength(3); // the scanner's open is the machine open already recorded

    // What a journey's hasDoneEvent / waitForEvent reads: the person's open, never a machine's click.
    const userId = rows[0]!.user_id;
    const since = new Date(Date.now() - 3_600_000);
    expect(await firstEventSince(db, { userId, event: "email:clicked", since })).toBeUndefined();
    expect((await firstEventSince(db, { userId, event: "email:opened", since }))?.anonymous).toBe(false);
  });

  it("counts opens and clicks from the operator's TRACKING_SCANNER_RANGES as machine traffic", async () => {
    const ranges = parseScannerRanges(" 198.51.100.0/24, not-a-range, 10.0.0.0/33,203.0.113.7/32");
    expect(ranges).toEqual(["198.51.100.0/24", "203.0.113.7/32"]);
    const { id } = await sent("welcome", { name: "Ada" });
    await ageEmail(id);
    const deps = { ...buildDeps(env).routing, webhooks: buildDeps(env).webhooks };
    const open = (ip: string) =>
      recordEngagement(deps, {
        kind: "open",
        emailId: id,
        url: null,
        userAgent: CHROME,
        ip,
        at: new Date(),
        scannerRanges: ranges,
      });
    expect((await open("198.51.100.23"))?.verdict).toEqual({ machine: true, reason: "known_scanner_range" });
    expect((await open("192.0.2.1"))?.verdict).toEqual({ machine: false });
  });
});
