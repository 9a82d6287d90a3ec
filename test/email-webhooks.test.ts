import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { pruneWebhookDeliveries } from "../src/services/email-events";
import { adminGet, call, expectErrorShape, unique } from "./helpers";

/** Signs like Resend (Svix): HMAC over `${id}.${timestamp}.${body}` with the whsec_ secret. */
function signed(payload: unknown, { secret = env.RESEND_WEBHOOK_SECRET, ageSeconds = 0 } = {}) {
  const body = JSON.stringify(payload);
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = new Date(Date.now() - ageSeconds * 1000);
  const signature = new Webhook(secret).sign(id, timestamp, body);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "svix-id": id,
      "svix-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
      "svix-signature": signature,
    },
  };
}

const postWebhook = (request: { body: string; headers: Record<string, string> }) =>
  call("/v1/webhooks/resend", { method: "POST", body: request.body, headers: request.headers });

async function sentEmail(address: string) {
  const id = crypto.randomUUID();
  const messageId = `re_${crypto.randomUUID()}`;
  const userId = unique("wh");
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, to_address, template_key, props, status, provider, provider_message_id, created_at, updated_at, sent_at) VALUES (?, ?, ?, 'welcome', '{}', 'sent', 'resend', ?, ?, ?, ?)",
  )
    .bind(id, userId, address, messageId, Date.now(), Date.now(), Date.now())
    .run();
  return { id, messageId };
}

const event = (type: string, messageId: string, extra: Record<string, unknown> = {}) => ({
  type,
  created_at: new Date().toISOString(),
  data: { email_id: messageId, to: ["x@example.com"], ...extra },
});

const suppression = (address: string) =>
  env.DB.prepare("SELECT * FROM suppressions WHERE email = ?").bind(address).first<{ reason: string }>();

describe("POST /v1/webhooks/resend", () => {
  it("marks an email delivered", async () => {
    const { id, messageId } = await sentEmail(`${unique("d")}@example.com`);
    const res = await postWebhook(signed(event("email.delivered", messageId)));
    expect(await res.json()).toEqual({
      handled: true,
      duplicate: false,
      emailId: id,
      status: "delivered",
      suppressed: false,
    });
    const email = (await (await adminGet(`/v1/admin/emails/${id}`)).json()) as { status: string; deliveredAt: string };
    expect(email.status).toBe("delivered");
    expect(email.deliveredAt).not.toBeNull();
  });

  it("suppresses the address on a hard bounce and on a complaint", async () => {
    const bounced = `${unique("hb")}@example.com`;
    const first = await sentEmail(bounced);
    const res = await postWebhook(
      signed(event("email.bounced", first.messageId, { bounce: { type: "Permanent", message: "mailbox unknown" } })),
    );
    expect(await res.json()).toMatchObject({ status: "bounced", suppressed: true });
    expect(await suppression(bounced)).toMatchObject({ reason: "hard_bounce" });

    const complained = `${unique("cp")}@example.com`;
    const second = await sentEmail(complained);
    await postWebhook(signed(event("email.complained", second.messageId)));
    expect(await suppression(complained)).toMatchObject({ reason: "complaint" });
  });

  it("suppresses after the third soft bounce, not before", async () => {
    const address = `${unique("sb")}@example.com`;
    for (let i = 1; i <= 3; i++) {
      const { messageId } = await sentEmail(address);
      const res = await postWebhook(signed(event("email.bounced", messageId, { bounce: { type: "Transient" } })));
      expect(((await res.json()) as { suppressed: boolean }).suppressed).toBe(i === 3);
    }
    expect(await suppression(address)).toMatchObject({ reason: "repeated_soft_bounces" });
  });

  it("never moves an email backwards (a bounce isn't undone by a late 'delivered')", async () => {
    const { id, messageId } = await sentEmail(`${unique("order")}@example.com`);
    await postWebhook(signed(event("email.bounced", messageId, { bounce: { type: "Transient" } })));
    await postWebhook(signed(event("email.delivered", messageId)));
    expect(((await (await adminGet(`/v1/admin/emails/${id}`)).json()) as { status: string }).status).toBe("bounced");
  });

  it("acknowledges events it doesn't track and emails it doesn't know, so Resend stops retrying", async () => {
    expect(await (await postWebhook(signed(event("email.opened", "re_x")))).json()).toMatchObject({ handled: false });
    expect(await (await postWebhook(signed(event("email.delivered", "re_unknown")))).json()).toMatchObject({
      handled: false,
      emailId: null,
    });
  });

  it("refuses unsigned, badly signed, tampered and stale requests", async () => {
    const { messageId } = await sentEmail(`${unique("sig")}@example.com`);
    const good = signed(event("email.delivered", messageId));

    const unsigned = await call("/v1/webhooks/resend", {
      method: "POST",
      body: good.body,
      headers: { "content-type": "application/json" },
    });
    await expectErrorShape(unsigned, 401, "UNAUTHORIZED");

    const wrongSecret = signed(event("email.delivered", messageId), {
      secret: "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==",
    });
    await expectErrorShape(await postWebhook(wrongSecret), 401, "UNAUTHORIZED");

    const tampered = { ...good, body: good.body.replace("email.delivered", "email.complained") };
    await expectErrorShape(await postWebhook(tampered), 401, "UNAUTHORIZED");

    const stale = signed(event("email.delivered", messageId), { ageSeconds: 10 * 60 });
    const body = await expectErrorShape(await postWebhook(stale), 401, "UNAUTHORIZED");
    expect(body.error).toContain("too old");

    const status = await env.DB.prepare("SELECT status FROM emails WHERE provider_message_id = ?")
      .bind(messageId)
      .first<{ status: string }>();
    expect(status!.status).toBe("sent");
  });

  it("answers a replayed delivery (same svix-id, inside the signature window) 200 and changes nothing", async () => {
    const address = `${unique("rp")}@example.com`;
    const { id, messageId } = await sentEmail(address);
    const delivery = signed(event("email.complained", messageId));
    expect(await (await postWebhook(delivery)).json()).toEqual({
      handled: true,
      duplicate: false,
      emailId: id,
      status: "complained",
      suppressed: true,
    });
    const before = await env.DB.prepare("SELECT * FROM emails WHERE id = ?").bind(id).first();
    // The address is let go again; a replay of the complaint must not suppress it a second time.
    await env.DB.prepare("DELETE FROM suppressions WHERE email = ?").bind(address).run();
    const replay = await postWebhook(delivery);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({
      handled: false,
      duplicate: true,
      emailId: null,
      status: null,
      suppressed: false,
    });
    expect(await env.DB.prepare("SELECT * FROM emails WHERE id = ?").bind(id).first()).toEqual(before);
    expect(await suppression(address)).toBeNull();
    const recorded = await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE message_id = ?")
      .bind(delivery.headers["svix-id"])
      .first<{ n: number }>();
    expect(recorded!.n).toBe(1);
  });

  it("records a delivery for an email it doesn't know, so its replay is a duplicate too", async () => {
    const delivery = signed(event("email.delivered", `re_${crypto.randomUUID()}`));
    expect(await (await postWebhook(delivery)).json()).toMatchObject({ handled: false, duplicate: false });
    expect(await (await postWebhook(delivery)).json()).toMatchObject({ handled: false, duplicate: true });
  });

  it("forgets delivery ids a day after their signatures expired", async () => {
    const old = `msg_${crypto.randomUUID()}`;
    const recent = `msg_${crypto.randomUUID()}`;
    const now = Date.now();
    for (const [id, at] of [
      [old, now - 25 * 3600_000],
      [recent, now - 3600_000],
    ] as const) {
      await env.DB.prepare(
        "INSERT INTO webhook_deliveries (source, message_id, claim, received_at) VALUES ('resend', ?, 'c', ?)",
      )
        .bind(id, at)
        .run();
    }
    expect(await pruneWebhookDeliveries(createDb(env.DB))).toBeGreaterThanOrEqual(1);
    const left = await env.DB.prepare("SELECT message_id FROM webhook_deliveries WHERE message_id IN (?, ?)")
      .bind(old, recent)
      .all<{ message_id: string }>();
    expect(left.results.map((r) => r.message_id)).toEqual([recent]);
  });

  it("answers a signed but malformed event with 400", async () => {
    await expectErrorShape(await postWebhook(signed({ type: "email.delivered", data: {} })), 400, "VALIDATION_ERROR");
  });
});
