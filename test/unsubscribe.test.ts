import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { signUnsubscribeToken } from "../src/lib/tokens";
import { adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";

async function contactWithToken() {
  const userId = unique("unsub");
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: `${userId}@example.com` },
  });
  const { id } = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { id: string };
  return { userId, id, token: await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, id) };
}

const preferences = async (userId: string) =>
  (await (await adminGet(`/v1/admin/contacts/${userId}/preferences`)).json()) as { unsubscribed: boolean };

describe("unsubscribe", () => {
  it("GET shows the preference centre and does not unsubscribe", async () => {
    const { userId, token } = await contactWithToken();
    const res = await call(`/v1/email/unsubscribe?token=${token}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Email preferences");
    expect(html).toContain("Unsubscribe from all emails");
    expect(html).toContain('method="post"');
    expect((await preferences(userId)).unsubscribed).toBe(false);
  });

  it("one-click POST (RFC 8058) unsubscribes, idempotently", async () => {
    const { userId, token } = await contactWithToken();
    const oneClick = () =>
      call(`/v1/email/unsubscribe?token=${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
    expect((await oneClick()).status).toBe(200);
    expect((await oneClick()).status).toBe(200);
    expect((await preferences(userId)).unsubscribed).toBe(true);
  });

  it("refuses forged, tampered and expired tokens", async () => {
    const { userId, id, token } = await contactWithToken();
    const forged = await signUnsubscribeToken("not-the-secret", id);
    const tampered = `${token.slice(0, -2)}xx`;
    const expired = await sign(
      { sub: id, purpose: "unsubscribe", exp: Math.floor(Date.now() / 1000) - 60 },
      env.TOKEN_SIGNING_SECRET,
      "HS256",
    );
    const otherPurpose = await sign(
      { sub: id, exp: Math.floor(Date.now() / 1000) + 60 },
      env.TOKEN_SIGNING_SECRET,
      "HS256",
    );
    for (const bad of [forged, tampered, expired, otherPurpose, ""]) {
      await expectErrorShape(await call(`/v1/email/unsubscribe?token=${bad}`, { method: "POST" }), 400, "BAD_REQUEST");
      expect((await call(`/v1/email/unsubscribe?token=${bad}`)).status).toBe(400);
    }
    expect((await preferences(userId)).unsubscribed).toBe(false);
  });

  it("verifies links signed with the previous secret while rotating; new links use the current one", async () => {
    const { userId, id } = await contactWithToken();
    const beforeRotation = await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET_PREVIOUS, id);
    expect((await call(`/v1/email/unsubscribe?token=${beforeRotation}`)).status).toBe(200);
    expect((await call(`/v1/email/unsubscribe?token=${beforeRotation}`, { method: "POST" })).status).toBe(200);
    expect((await preferences(userId)).unsubscribed).toBe(true);
  });
});

describe("HTML pages send security headers", () => {
  const expectSecure = (res: Response) => {
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain("script-src");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
  };

  it("on the unsubscribe page, its answer, and its error", async () => {
    const { token } = await contactWithToken();
    for (const res of [
      await call(`/v1/email/unsubscribe?token=${token}`),
      await call(`/v1/email/unsubscribe?token=${token}`, { method: "POST" }),
      await call("/v1/email/unsubscribe?token=forged"),
      await call("/v1/email/unsubscribe?token=forged", { method: "POST" }),
    ]) {
      expectSecure(res);
      await res.body?.cancel();
    }
  });
});
