import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QUEUES } from "../src/lib/queues";
import { adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { deliver } from "./queues";

type Email = {
  id: string;
  status: string;
  resentFromId: string | null;
  templateKey: string;
  props: Record<string, unknown>;
  error: string | null;
};

async function emailFor(
  status: string,
  options: { template?: string | null; createdAt?: number; userId?: string; journeyKey?: string } = {},
) {
  const userId = options.userId ?? unique("rs");
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: `${userId}@example.com` },
  });
  const id = crypto.randomUUID();
  const createdAt = options.createdAt ?? Date.now();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, to_address, template_key, props, status, journey_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(
      id,
      userId,
      `${userId}@example.com`,
      options.template === undefined ? "welcome" : options.template,
      JSON.stringify({ name: "Lin" }),
      status,
      options.journeyKey ?? null,
      createdAt,
      createdAt,
    )
    .run();
  return { id, userId };
}

/** Runs the email-send queue consumer on these emails, as the platform would deliver them. */
const sendQueued = (emailIds: string[]) =>
  deliver(
    QUEUES.emailSends.name,
    emailIds.map((emailId, i) => ({ id: `m${i}`, body: { emailId } })),
  );

const getEmail = async (id: string) => (await (await adminGet(`/v1/admin/emails/${id}`)).json()) as Email;

describe("POST /v1/admin/emails/:id/resend", () => {
  it("re-renders a failed email as a new linked email and sends it through the queue", async () => {
    const { id } = await emailFor("failed");
    const res = await adminPost(`/v1/admin/emails/${id}/resend`);
    expect(res.status).toBe(202);
    const { emailId, status } = (await res.json()) as { emailId: string; status: string };
    expect(status).toBe("queued");
    expect(emailId).not.toBe(id);
    expect(await getEmail(emailId)).toMatchObject({ resentFromId: id, templateKey: "welcome", props: { name: "Lin" } });

    const result = await sendQueued([emailId]);
    expect(result.explicitAcks).toEqual(["m0"]);
    const sent = await getEmail(emailId);
    expect(sent.status).toBe("sent");
    expect((sent as unknown as { html: string }).html).toContain("Welcome, Lin!");
    expect((await getEmail(id)).status).toBe("failed");
  });

  it("changes nothing when the same send message is delivered twice", async () => {
    const { id } = await emailFor("failed");
    const { emailId } = (await (await adminPost(`/v1/admin/emails/${id}/resend`)).json()) as { emailId: string };
    await sendQueued([emailId]);
    const first = await getEmail(emailId);
    await sendQueued([emailId]);
    const second = await getEmail(emailId);
    expect(second).toEqual(first);
    expect(second.status).toBe("sent");
  });

  it("still applies suppression when the resend is sent", async () => {
    const { id, userId } = await emailFor("bounced");
    const { emailId } = (await (await adminPost(`/v1/admin/emails/${id}/resend`)).json()) as { emailId: string };
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(`${userId}@example.com`, Date.now())
      .run();
    await sendQueued([emailId]);
    expect(await getEmail(emailId)).toMatchObject({ status: "suppressed", error: "Address suppressed: hard_bounce" });
  });

  it("refuses other statuses and emails without a template with 409, unknown ids with 404", async () => {
    for (const status of ["sent", "queued", "delivered", "suppressed", "complained"]) {
      const { id } = await emailFor(status);
      expect(
        (await expectErrorShape(await adminPost(`/v1/admin/emails/${id}/resend`), 409, "CONFLICT")).error,
      ).toContain(status);
    }
    const { id } = await emailFor("failed", { template: null });
    expect((await expectErrorShape(await adminPost(`/v1/admin/emails/${id}/resend`), 409)).error).toContain(
      "templateKey",
    );
    await expectErrorShape(await adminPost(`/v1/admin/emails/${crypto.randomUUID()}/resend`), 404, "NOT_FOUND");
  });
});

describe("POST /v1/admin/emails/resend (bulk)", () => {
  it("retries the failed recipients, skipping unsubscribed and suppressed ones, and never twice", async () => {
    const journeyKey = unique("j");
    const ok = await emailFor("failed", { journeyKey });
    const bounced = await emailFor("bounced", { journeyKey });
    const unsub = await emailFor("failed", { journeyKey });
    const supp = await emailFor("bounced", { journeyKey });
    await emailFor("sent", { journeyKey });
    await env.DB.prepare("UPDATE contacts SET unsubscribed_at = ? WHERE external_id = ?")
      .bind(Date.now(), unsub.userId)
      .run();
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'complaint', ?)")
      .bind(`${supp.userId}@example.com`, Date.now())
      .run();
    const bulk = (dryRun: boolean) => adminPost("/v1/admin/emails/resend", { filter: { journeyKey }, dryRun });

    const preview = (await (await bulk(true)).json()) as {
      resent: number;
      skipped: number;
      results: Array<{ emailId: string; outcome: string }>;
    };
    expect(preview.resent).toBe(2);
    expect(Object.fromEntries(preview.results.map((r) => [r.emailId, r.outcome]))).toEqual({
      [ok.id]: "would_resend",
      [bounced.id]: "would_resend",
      [unsub.id]: "unsubscribed",
      [supp.id]: "suppressed",
    });
    const copies = () =>
      env.DB.prepare("SELECT count(*) AS n FROM emails WHERE resent_from_id IN (?, ?)")
        .bind(ok.id, bounced.id)
        .first<{ n: number }>();
    expect((await copies())!.n).toBe(0);

    const real = (await (await bulk(false)).json()) as {
      resent: number;
      skipped: number;
      results: Array<{ emailId: string; outcome: string; newEmailId?: string }>;
    };
    expect(real).toMatchObject({ resent: 2, skipped: 2 });
    expect((await copies())!.n).toBe(2);
    const newIds = real.results.flatMap((r) => (r.newEmailId ? [r.newEmailId] : []));
    await sendQueued(newIds);
    expect((await Promise.all(newIds.map(getEmail))).map((e) => e.status)).toEqual(["sent", "sent"]);

    const again = (await (await bulk(false)).json()) as {
      resent: number;
      results: Array<{ emailId: string; outcome: string }>;
    };
    expect(again.resent).toBe(0);
    expect(
      again.results
        .filter((r) => r.outcome === "already_resent")
        .map((r) => r.emailId)
        .sort(),
    ).toEqual([ok.id, bounced.id].sort());
  });

  it("filters by status, template and time, and validates its input", async () => {
    const templateKey = "activation-tips";
    const old = await emailFor("failed", { template: templateKey, createdAt: Date.parse("2024-03-01T00:00:00Z") });
    await emailFor("bounced", { template: templateKey, createdAt: Date.parse("2024-03-02T00:00:00Z") });
    const body = (await (
      await adminPost("/v1/admin/emails/resend", {
        filter: { status: "failed", templateKey, from: "2024-02-28T00:00:00Z", to: "2024-03-01T12:00:00Z" },
        dryRun: true,
      })
    ).json()) as { results: Array<{ emailId: string }> };
    expect(body.results.map((r) => r.emailId)).toEqual([old.id]);

    await expectErrorShape(
      await adminPost("/v1/admin/emails/resend", { filter: { status: "sent" } }),
      400,
      "VALIDATION_ERROR",
    );
    await expectErrorShape(await adminPost("/v1/admin/emails/resend", { limit: 5000 }), 400);
    await expectErrorShape(await adminPost("/v1/admin/emails/resend", { filter: { to: "tomorrow" } }), 400);
  });
});
