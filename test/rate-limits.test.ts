import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RATE_LIMIT_PERIOD_SECONDS } from "../src/http/rate-limit";
import { signUnsubscribeToken } from "../src/lib/tokens";
import { adminAuth, call, expectErrorShape, unique } from "./helpers";

// The local Rate Limiting binding (miniflare) enforces the limits in fixed windows aligned to the
// clock, so a run may straddle one window change: drive requests until refused, bounded by two
// windows' worth. Public: wrangler.toml's limit; ingest and webhooks: vitest.config.ts's smaller ones.
const PUBLIC_LIMIT = 100;
const TEN_SECOND_LIMIT = 50;

const randomIp = () => `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 250) + 1).join(".")}`;

async function untilRefused(send: () => Promise<Response>, limit: number, concurrency = 25) {
  let sent = 0;
  while (sent <= 2 * limit + concurrency) {
    const responses = await Promise.all(Array.from({ length: concurrency }, send));
    sent += concurrency;
    const refused = responses.find((res) => res.status === 429);
    if (refused) return { refused, sent };
  }
  throw new Error(`no 429 after ${sent} requests`);
}

describe("rate limits", () => {
  it("refuses a client IP past the public limit with 429, the error shape and Retry-After", async () => {
    const ip = randomIp();
    const health = () => call("/v1/health", { headers: { "cf-connecting-ip": ip } });
    expect((await health()).status).toBe(200);
    const { refused, sent } = await untilRefused(health, PUBLIC_LIMIT);
    expect(sent).toBeGreaterThanOrEqual(PUBLIC_LIMIT - 25);
    expect(refused.headers.get("retry-after")).toBe(String(RATE_LIMIT_PERIOD_SECONDS.RATE_LIMIT_PUBLIC));
    await expectErrorShape(refused, 429, "RATE_LIMITED");

    // The limit is per IP: the unsubscribe page and docs from this IP are refused, another IP is served.
    expect((await call("/v1/email/unsubscribe?token=x", { headers: { "cf-connecting-ip": ip } })).status).toBe(429);
    expect((await call("/docs", { headers: { "cf-connecting-ip": ip } })).status).toBe(429);
    expect((await call("/v1/health", { headers: { "cf-connecting-ip": randomIp() } })).status).toBe(200);
  });

  it("limits ingest per verified key, whatever IP it comes from; unverified tokens count against the IP", async () => {
    const created = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: adminAuth(),
      json: { name: unique("limited"), scopes: ["ingest"] },
    });
    const { key } = (await created.json()) as { key: string };
    const ingest = (token: string, ip: string) =>
      call("/v1/ingest", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": ip },
        json: { event: "limited", userId: unique("u") },
      });
    const ip = randomIp();
    expect((await ingest(key, ip)).status).toBe(202);
    const { refused } = await untilRefused(() => ingest(key, ip), TEN_SECOND_LIMIT, 10);
    expect(refused.headers.get("retry-after")).toBe(String(RATE_LIMIT_PERIOD_SECONDS.RATE_LIMIT_INGEST));
    await expectErrorShape(refused, 429, "RATE_LIMITED");
    // The bucket is the key's, not the IP's: the same key elsewhere is refused, another key here is served.
    expect((await ingest(key, randomIp())).status).toBe(429);
    expect((await ingest(env.INGEST_API_KEY, ip)).status).toBe(202);

    // Tokens that verify nowhere (made-up stored keys or not) share their IP's bucket, before any D1 lookup.
    const guesser = randomIp();
    const made = () => ingest(`hsk_${crypto.randomUUID().replaceAll("-", "").padEnd(43, "x")}`, guesser);
    expect((await made()).status).toBe(401);
    const guessed = await untilRefused(made, TEN_SECOND_LIMIT, 10);
    await expectErrorShape(guessed.refused, 429, "RATE_LIMITED");
    expect(guessed.refused.headers.get("x-d1-round-trips")).toBe("0");
  });

  it("limits webhooks per sender IP", async () => {
    const ip = randomIp();
    const hook = () => call("/v1/webhooks/posthog", { method: "POST", headers: { "cf-connecting-ip": ip }, json: {} });
    expect((await hook()).status).toBe(401);
    const { refused } = await untilRefused(hook, TEN_SECOND_LIMIT, 10);
    await expectErrorShape(refused, 429, "RATE_LIMITED");
    expect(refused.headers.get("retry-after")).toBe(String(RATE_LIMIT_PERIOD_SECONDS.RATE_LIMIT_WEBHOOKS));
  });

  it("does not limit requests that carry no client IP (not from the internet: service bindings, tests)", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 3 * TEN_SECOND_LIMIT }, () =>
        call("/v1/webhooks/posthog", { method: "POST", json: {} }).then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([401]));
  });

  it("limits unsubscribe links per link, so one shared mail-provider IP can serve many", async () => {
    const sharedIp = randomIp();
    const page = (token: string, ip = sharedIp) =>
      call(`/v1/email/unsubscribe?token=${encodeURIComponent(token)}`, { headers: { "cf-connecting-ip": ip } });
    // Past two windows' worth of the public limit from one IP, each a different recipient's link.
    const tokens = await Promise.all(
      Array.from({ length: 2 * PUBLIC_LIMIT + 25 }, () =>
        signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, crypto.randomUUID()),
      ),
    );
    const statuses = await Promise.all(tokens.map((token) => page(token).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    // One link hammered from many addresses is still limited.
    const token = tokens[0]!;
    const { refused } = await untilRefused(() => page(token, randomIp()), PUBLIC_LIMIT);
    await expectErrorShape(refused, 429, "RATE_LIMITED");
    // Links that don't verify count against the IP, so guessing tokens is limited as before.
    const guesser = randomIp();
    const guessed = await untilRefused(() => page(`${crypto.randomUUID()}.x.y`, guesser), PUBLIC_LIMIT);
    await expectErrorShape(guessed.refused, 429, "RATE_LIMITED");
  });

  it("never limits admin routes for a verified key, and documents 429 on the limited routes only", async () => {
    const ip = randomIp();
    const statuses = await Promise.all(
      Array.from({ length: PUBLIC_LIMIT + 20 }, () =>
        call("/v1/admin/dead-letters", { headers: { ...adminAuth(), "cf-connecting-ip": ip } }).then((r) => r.status),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    const doc = (await (await call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(doc.paths["/v1/ingest"]!.post!.responses["429"]).toBeDefined();
    expect(doc.paths["/v1/email/unsubscribe"]!.get!.responses["429"]).toBeDefined();
    // Admin routes document 429 for unverified keys only (a key not known from memory, per IP).
    expect(doc.paths["/v1/admin/contacts"]!.get!.responses["429"]).toBeDefined();
    expect(doc.paths["/v1/email/unsubscribe"]!.post?.responses["403"]).toBeUndefined();
  });
});
