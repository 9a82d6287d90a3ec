import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { deliverWhenDue } from "../src/services/due-sends";
import { adminAuth, adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";

type Accepted = { emailId: string; status: string; reason?: string };

const send = (json: unknown, headers: Record<string, string> = ingestAuth()) =>
  call("/v1/emails", { method: "POST", headers, json });

async function accepted(json: unknown): Promise<Accepted> {
  const res = await send(json);
  if (res.status !== 202) throw new Error(`expected 202, got ${res.status}: ${await res.text()}`);
  return (await res.json()) as Accepted;
}

async function contact(prefix: string) {
  const userId = unique(prefix);
  const email = `${userId}@example.com`;
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: email },
  });
  return { userId, email };
}

const reset = { resetUrl: "https://app.example.com/reset?t=1" };
const news = { headline: "New: topics", body: "Choose what you get." };
const emailRow = async (id: string) =>
  (await (await adminGet(`/v1/admin/emails/${id}`)).json()) as { status: string; error: string | null };

async function eventually(id: string, status: string) {
  for (let i = 0; i < 100; i++) {
    if ((await emailRow(id)).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`email ${id} never became ${status}: ${JSON.stringify(await emailRow(id))}`);
}

const setTopics = (userId: string, topics: Record<string, boolean>) =>
  call(`/v1/admin/contacts/${userId}/preferences`, { method: "PUT", headers: adminAuth(), json: { topics } });

describe("POST /v1/emails", () => {
  it("queues an email to a contact and the email-send queue sends it, in one D1 round trip", async () => {
    const { userId, email } = await contact("tx_send");
    const res = await send({ template: "password-reset", userId, data: reset });
    expect(res.status).toBe(202);
    expect(res.headers.get("X-D1-Round-Trips")).toBe("1");
    const body = (await res.json()) as Accepted;
    expect(body).toEqual({ emailId: expect.any(String), status: "queued" });
    await eventually(body.emailId, "sent");
    const row = (await (await adminGet(`/v1/admin/emails/${body.emailId}`)).json()) as Record<string, unknown>;
    expect(row).toMatchObject({
      userId,
      toAddress: email,
      templateKey: "password-reset",
      subject: "Reset your password",
    });
    expect(row.text).toContain(reset.resetUrl);
  });

  it("to an address no contact has: makes the contact keyed by the address, in one round trip", async () => {
    const address = `${unique("tx_new")}@Example.com`;
    const res = await send({ template: "product-update", to: address, data: news });
    expect(res.headers.get("X-D1-Round-Trips")).toBe("1");
    const body = (await res.json()) as Accepted;
    expect(body.status).toBe("queued");
    const c = (await (await adminGet(`/v1/admin/contacts/${encodeURIComponent(address.toLowerCase())}`)).json()) as {
      email: string;
    };
    expect(c.email).toBe(address);
    await eventually(body.emailId, "sent");
  });

  it("refuses data that doesn't match the template's schema with a 400 naming the field, and queues nothing", async () => {
    const { userId } = await contact("tx_bad");
    const before = await env.DB.prepare("SELECT count(*) AS n FROM emails").first<{ n: number }>();
    const missing = await expectErrorShape(await send({ template: "password-reset", userId, data: {} }), 400);
    expect(missing.error).toMatch(/^data\.resetUrl: /);
    const wrong = await expectErrorShape(
      await send({ template: "product-update", userId, data: { headline: "x", body: 3 } }),
      400,
    );
    expect(wrong.error).toMatch(/^data\.body: /);
    await expectErrorShape(await send({ template: "nope", userId }), 400, "VALIDATION_ERROR");
    await expectErrorShape(await send({ template: "product-update", userId, data: news, topic: "nope" }), 400);
    await expectErrorShape(await send({ template: "password-reset", data: reset }), 400);
    await expectErrorShape(await send({ template: "password-reset", data: reset, userId, to: "a@example.com" }), 400);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM emails").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
    await expectErrorShape(await send({ template: "password-reset", userId: unique("nobody"), data: reset }), 404);
    await expectErrorShape(await send({ template: "password-reset", userId, data: reset }, {}), 401);
  });

  it("answers the first emailId to 20 concurrent retries with one idempotency key, and sends once", async () => {
    const { userId } = await contact("tx_race");
    const idempotencyKey = unique("reset");
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => accepted({ template: "password-reset", userId, data: reset, idempotencyKey })),
    );
    const ids = new Set(answers.map((a) => a.emailId));
    expect(ids.size).toBe(1);
    const [emailId] = [...ids];
    await eventually(emailId!, "sent");
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE user_id = ?")
      .bind(userId)
      .first<{ n: number }>();
    expect(rows!.n).toBe(1);
    // The header form of the key is the same key.
    const again = await send(
      { template: "password-reset", userId, data: reset },
      { ...ingestAuth(), "idempotency-key": idempotencyKey },
    );
    expect(((await again.json()) as Accepted).emailId).toBe(emailId);
    expect(again.headers.get("X-D1-Round-Trips")).toBe("1");
  });

  it("suppressions always block; unsubscribes block all but transactional sends", async () => {
    const bounced = await contact("tx_bounce");
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(bounced.email, Date.now())
      .run();
    expect(await accepted({ template: "password-reset", userId: bounced.userId, data: reset })).toMatchObject({
      status: "suppressed",
      reason: "hard_bounce",
    });
    expect(await accepted({ template: "password-reset", to: bounced.email, data: reset })).toMatchObject({
      status: "suppressed",
    });

    const left = await contact("tx_unsub");
    await call(`/v1/admin/contacts/${left.userId}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { unsubscribed: true },
    });
    expect(await accepted({ template: "product-update", userId: left.userId, data: news })).toMatchObject({
      status: "unsubscribed",
    });
    const receipt = await accepted({ template: "password-reset", userId: left.userId, data: reset });
    expect(receipt.status).toBe("queued");
    await eventually(receipt.emailId, "sent");
    const marked = await accepted({ template: "product-update", userId: left.userId, data: news, transactional: true });
    expect(marked.status).toBe("queued");
  });

  it("topic opt-outs skip the topic's emails (topic_unsubscribed); opt-in topics need a yes", async () => {
    const { userId } = await contact("tx_topic");
    expect((await setTopics(userId, { "product-updates": false })).status).toBe(200);
    const skipped = await accepted({ template: "product-update", userId, data: news });
    expect(skipped).toMatchObject({ status: "skipped", reason: "topic_unsubscribed" });
    expect(await emailRow(skipped.emailId)).toMatchObject({ status: "skipped", error: "topic_unsubscribed" });
    expect((await accepted({ template: "welcome", userId })).status).toBe("queued");

    const digest = { template: "weekly-digest", userId, data: { eventsThisWeek: 3 } };
    expect(await accepted(digest)).toMatchObject({ status: "skipped", reason: "topic_unsubscribed" });
    await setTopics(userId, { "weekly-digest": true });
    expect((await accepted(digest)).status).toBe("queued");
  });

  it("counts transactional sends apart in the daily cap: a marketing flood never blocks a password reset", async () => {
    const { userId } = await contact("tx_cap");
    const marketing = [];
    for (let i = 0; i < 11; i++) marketing.push(await accepted({ template: "product-update", userId, data: news }));
    for (const m of marketing.slice(0, 10)) await eventually(m.emailId, "sent");
    await eventually(marketing[10]!.emailId, "skipped");
    expect((await emailRow(marketing[10]!.emailId)).error).toMatch(/^rate_limited/);
    expect(await accepted({ template: "product-update", userId, data: news })).toMatchObject({
      status: "skipped",
      reason: "rate_limited",
    });
    const resetEmail = await accepted({ template: "password-reset", userId, data: reset });
    expect(resetEmail.status).toBe("queued");
    await eventually(resetEmail.emailId, "sent");
  });

  it("holds an email with sendAt until it is due, and resend works on a transactional email", async () => {
    const { userId } = await contact("tx_later");
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const later = await accepted({ template: "password-reset", userId, data: reset, sendAt });
    expect(later.status).toBe("queued");
    const deps = buildDeps(env);
    const sent: unknown[] = [];
    const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue<{ emailId: string }>;
    expect((await deliverWhenDue(deps.delivery, queue, later.emailId)).status).toBe("queued");
    expect(sent).toEqual([{ emailId: later.emailId }]);
    await expectErrorShape(
      await send({ template: "password-reset", userId, data: reset, sendAt: "2099-01-01T00:00:00Z" }),
      400,
    );

    await env.DB.prepare("UPDATE emails SET status = 'failed' WHERE id = ?").bind(later.emailId).run();
    const res = await call(`/v1/admin/emails/${later.emailId}/resend`, { method: "POST", headers: adminAuth() });
    expect(res.status).toBe(202);
    const { emailId } = (await res.json()) as { emailId: string };
    await eventually(emailId, "sent");
  });
});
