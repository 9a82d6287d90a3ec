import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { verifyUnsubscribeToken } from "../src/lib/tokens";
import { ProviderError } from "../src/providers/email";
import { resendProvider } from "../src/providers/email/resend-api";
import { type DeliveryDeps, deliverEmail } from "../src/services/emails";
import { queuedEmail, testHash } from "./helpers";

type Captured = { url: string; headers: Headers; body: Record<string, unknown> };

/** A fake Resend API at the provider boundary: records requests, answers with the given statuses in turn. */
function fakeResend(...statuses: number[]) {
  const requests: Captured[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    requests.push({ url, headers: new Headers(init.headers), body: JSON.parse(init.body as string) });
    const status = statuses[Math.min(requests.length - 1, statuses.length - 1)]!;
    const body =
      status < 300
        ? { id: `re_${requests.length}` }
        : { name: "error", message: status === 422 ? "Invalid `to` field" : "Server error" };
    return new Response(JSON.stringify(body), { status });
  }) as typeof fetch;
  return { requests, fetcher };
}

const deps = (fetcher: typeof fetch): DeliveryDeps => ({
  db: createDb(env.DB),
  hash: testHash,
  provider: resendProvider("re_test_key", fetcher),
  from: "Hogsend <hello@example.com>",
  publicBaseUrl: "https://mail.example.com",
  tokenSecret: env.TOKEN_SIGNING_SECRET,
  maxPerAddressPerDay: 10,
  webhookQueue: env.WEBHOOK_DELIVERIES_QUEUE,
});

describe("delivery through Resend", () => {
  it("sends with the email id as idempotency key and RFC 8058 one-click unsubscribe headers", async () => {
    const { id, userId } = await queuedEmail();
    const resend = fakeResend(200);
    const email = await deliverEmail(deps(resend.fetcher), id);
    expect(email).toMatchObject({
      status: "sent",
      providerMessageId: "re_1",
      provider: "resend",
      toAddress: `${userId}@example.com`,
      html: null,
    });

    const [request] = resend.requests;
    expect(request!.url).toBe("https://api.resend.com/emails");
    expect(request!.headers.get("idempotency-key")).toBe(id);
    const headers = request!.body.headers as Record<string, string>;
    expect(headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const link = headers["List-Unsubscribe"]!.slice(1, -1);
    expect(link).toMatch(/^https:\/\/mail\.example\.com\/v1\/email\/unsubscribe\?token=/);
    expect(request!.body.html as string).toContain(link.replaceAll("&", "&amp;"));
    expect(await verifyUnsubscribeToken(env.TOKEN_SIGNING_SECRET, new URL(link).searchParams.get("token")!)).toMatch(
      /.+/,
    );
  });

  it("never sends twice: a second delivery of a sent email does nothing", async () => {
    const { id } = await queuedEmail();
    const resend = fakeResend(200);
    await deliverEmail(deps(resend.fetcher), id);
    await deliverEmail(deps(resend.fetcher), id);
    expect(resend.requests).toHaveLength(1);
  });

  it("throws a retryable error on 429 and 5xx and keeps the email queued", async () => {
    for (const status of [429, 503]) {
      const { id } = await queuedEmail();
      const error = await deliverEmail(deps(fakeResend(status).fetcher), id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).retryable).toBe(true);
      const row = await env.DB.prepare("SELECT status, error FROM emails WHERE id = ?")
        .bind(id)
        .first<{ status: string; error: string }>();
      expect(row).toMatchObject({ status: "queued", error: expect.stringContaining(String(status)) });
    }
  });

  it("marks the email failed with the provider's message on a 4xx", async () => {
    const { id } = await queuedEmail();
    const email = await deliverEmail(deps(fakeResend(422).fetcher), id);
    expect(email).toMatchObject({ status: "failed", error: "Resend 422: Invalid `to` field" });
    expect(email.failedAt).not.toBeNull();
  });

  it("blocks unsubscribed contacts before the provider is called", async () => {
    const { id, userId } = await queuedEmail();
    await env.DB.prepare("UPDATE contacts SET unsubscribed_at = ? WHERE external_id = ?")
      .bind(Date.now(), userId)
      .run();
    const resend = fakeResend(200);
    expect(await deliverEmail(deps(resend.fetcher), id)).toMatchObject({
      status: "suppressed",
      error: "Contact unsubscribed",
    });
    expect(resend.requests).toHaveLength(0);
  });
});
