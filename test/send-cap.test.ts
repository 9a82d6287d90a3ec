import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { createDb } from "../src/db/client";
import { resendProvider } from "../src/providers/email/resend-api";
import { deliverEmail } from "../src/services/emails";
import { adminAuth, adminGet, call, ingestAuth, unique } from "./helpers";

const CAP = 10; // EMAIL_MAX_PER_ADDRESS_PER_DAY in wrangler.toml

async function contactWith(userId: string, email: string) {
  const res = await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: email },
  });
  expect(res.status).toBe(202);
}

async function queuedEmail(userId: string) {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, template_key, props, status, created_at, updated_at) VALUES (?, ?, 'welcome', '{}', 'queued', ?, ?)",
  )
    .bind(id, userId, Date.now(), Date.now())
    .run();
  return id;
}

const deliver = (id: string) => deliverEmail(buildDeps(env).delivery, id);

describe("at most EMAIL_MAX_PER_ADDRESS_PER_DAY emails to one address per 24 h", () => {
  it("the 11th email to one address in a day is skipped (rate_limited), whatever contact id it goes to", async () => {
    const address = `${unique("cap")}@example.com`;
    const ids = [unique("cap_a"), unique("cap_b")];
    await contactWith(ids[0]!, address);
    await contactWith(ids[1]!, address.toUpperCase());
    const statuses = [];
    for (let i = 0; i < CAP + 2; i++) statuses.push((await deliver(await queuedEmail(ids[i % 2]!))).status);
    expect(statuses).toEqual([...Array(CAP).fill("sent"), "skipped", "skipped"]);

    const skipped = await deliver(await queuedEmail(ids[0]!));
    expect(skipped).toMatchObject({ status: "skipped", toAddress: address, sentAt: null, providerMessageId: null });
    expect(skipped.error).toMatch(/^rate_limited: /);
    const list = (await (await adminGet(`/v1/admin/emails?status=skipped&to=${address}`)).json()) as {
      emails: unknown[];
    };
    expect(list.emails).toHaveLength(3);
  });

  it("concurrent sends to one address never pass the cap", async () => {
    const userId = unique("cap_race");
    await contactWith(userId, `${userId}@example.com`);
    const ids = await Promise.all(Array.from({ length: CAP + 5 }, () => queuedEmail(userId)));
    const results = await Promise.all(ids.map(deliver));
    expect(results.filter((e) => e.status === "sent")).toHaveLength(CAP);
    expect(results.filter((e) => e.status === "skipped")).toHaveLength(5);
  });

  it("sends older than 24 h don't count, and a skipped email is resendable later", async () => {
    const userId = unique("cap_later");
    await contactWith(userId, `${userId}@example.com`);
    for (let i = 0; i < CAP; i++) await deliver(await queuedEmail(userId));
    const skipped = await deliver(await queuedEmail(userId));
    expect(skipped.status).toBe("skipped");

    // A day later: yesterday's sends have aged out of the window.
    await env.DB.prepare("UPDATE emails SET sent_at = sent_at - ? WHERE user_id = ? AND status = 'sent'")
      .bind(24 * 3600 * 1000 + 1000, userId)
      .run();
    const res = await call(`/v1/admin/emails/${skipped.id}/resend`, { method: "POST", headers: adminAuth() });
    expect(res.status).toBe(202);
    const { emailId } = (await res.json()) as { emailId: string };
    // The resend queue delivers on its own in the test runtime; deliver it here too (a sent email is never sent twice).
    expect((await deliver(emailId)).status).toBe("sent");
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE resent_from_id = ? AND status = 'sent'")
      .bind(skipped.id)
      .first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });

  it("emails that never reached the provider (failed, suppressed, skipped) don't use up the cap", async () => {
    const userId = unique("cap_unsent");
    await contactWith(userId, `${userId}@example.com`);
    const now = Date.now();
    for (const status of ["failed", "suppressed", "skipped", "failed", "suppressed", "skipped"]) {
      await env.DB.prepare(
        "INSERT INTO emails (id, user_id, to_address, status, sent_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
        .bind(crypto.randomUUID(), userId, `${userId}@example.com`, status, now, now, now)
        .run();
    }
    for (let i = 0; i < CAP; i++) expect((await deliver(await queuedEmail(userId))).status).toBe("sent");
    expect((await deliver(await queuedEmail(userId))).status).toBe("skipped");
  });

  it("a send the provider refuses or fails gives its slot back (and is never counted as sent)", async () => {
    const userId = unique("cap_refused");
    await contactWith(userId, `${userId}@example.com`);
    const answering = (status: number) =>
      (async () =>
        new Response(JSON.stringify({ name: "error", message: "nope" }), { status })) as unknown as typeof fetch;
    const via = (status: number) => ({
      ...buildDeps(env).delivery,
      db: createDb(env.DB),
      provider: resendProvider("re_test_key", answering(status)),
    });
    for (let i = 0; i < CAP; i++) {
      expect(await deliverEmail(via(422), await queuedEmail(userId))).toMatchObject({ status: "failed", sentAt: null });
      const retried = await queuedEmail(userId);
      await expect(deliverEmail(via(500), retried)).rejects.toThrow();
      expect((await env.DB.prepare("SELECT status, sent_at FROM emails WHERE id = ?").bind(retried).first())!).toEqual({
        status: "queued",
        sent_at: null,
      });
      await env.DB.prepare("UPDATE emails SET status = 'failed' WHERE id = ?").bind(retried).run();
    }
    for (let i = 0; i < CAP; i++) expect((await deliver(await queuedEmail(userId))).status).toBe("sent");
  });
});
