import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import type { BackfillPageMessage, EmailSendMessage } from "../src/lib/queues";
import { processBackfillPage } from "../src/pipeline/backfill-page";
import { resendProvider } from "../src/providers/email/resend-api";
import { healStalledBackfills } from "../src/scheduled/heal-backfills";
import { createBroadcast } from "../src/services/broadcasts/jobs";
import { deliverWhenDue, RATE_LIMIT_GIVE_UP_MS } from "../src/services/due-sends";
import { deliverEmail } from "../src/services/emails";
import { importCsv } from "./backfill-helpers";
import { adminAuth, adminGet, adminPost, call, queuedEmail, unique } from "./helpers";

type Sent = { body: unknown; delaySeconds?: number };

/** A queue that only records what was sent to it (and can be told to fail, like a crash). */
function recordingQueue(fail = { now: false }) {
  const sent: Sent[] = [];
  const queue = {
    async send(body: unknown, options?: { delaySeconds?: number }) {
      if (fail.now) throw new Error("invocation died");
      sent.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: Array<{ body: unknown; delaySeconds?: number }>) {
      if (fail.now) throw new Error("invocation died");
      sent.push(...messages.map((m) => ({ body: m.body, delaySeconds: m.delaySeconds })));
    },
  };
  return { sent, queue, fail };
}

/** The real bindings, with the page chain and email sends recorded instead of delivered. */
function recordedDeps() {
  const pages = recordingQueue();
  const sends = recordingQueue();
  const deps = {
    ...buildDeps(env).backfills,
    queue: pages.queue as unknown as Queue<BackfillPageMessage>,
    emailSends: sends.queue as unknown as Queue<EmailSendMessage>,
  };
  return { deps, pages, sends };
}

type Contact = { externalId: string; email?: string };

/**
 * An import of `n` plain contacts plus one of each kind a broadcast must skip: no address,
 * unsubscribed, suppressed, opted out of the topic.
 */
async function seedAudience(n: number) {
  const t = unique("bc");
  const rows: Contact[] = Array.from({ length: n }, (_, i) => ({
    externalId: `${t}_${i}`,
    email: `${t}_${i}@example.com`,
  }));
  rows.push(
    { externalId: `${t}_noaddr` },
    ...["unsub", "supp", "topic"].map((k) => ({ externalId: `${t}_${k}`, email: `${t}_${k}@example.com` })),
  );
  const importJobId = await importCsv(
    rows.map((r) => JSON.stringify({ ...r, properties: { plan: "pro" } })).join("\n"),
    "ndjson",
  );
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("UPDATE contacts SET unsubscribed_at = ? WHERE external_id = ?").bind(now, `${t}_unsub`),
    env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)").bind(
      `${t}_supp@example.com`,
      now,
    ),
    env.DB.prepare(
      "INSERT INTO topic_preferences (contact_id, topic_key, subscribed, source, updated_at) SELECT id, 'product-updates', 0, 'admin', ? FROM contacts WHERE external_id = ?",
    ).bind(now, `${t}_topic`),
  ]);
  return { importJobId, t };
}

const request = (importJobId: string, extra: Record<string, unknown> = {}) => ({
  template: "product-update",
  topic: "product-updates",
  data: { headline: "We moved", body: "Same product, new home." },
  filter: { importJobId, where: [{ property: "plan", op: "eq", value: "pro" }] },
  ...extra,
});

const SKIPS = { suppressed: 1, unsubscribed: 1, topic_opt_out: 1, no_address: 1, rate_limited: 0 };

type BroadcastBody = {
  id: string;
  status: string;
  targeted: number;
  queued: number;
  sent: number;
  failed: number;
  cancelled: number;
  skipped: Record<string, number>;
  samples: Array<{ to: string; subject: string; html: string }> | null;
};
const getBroadcast = async (id: string) =>
  (await (await adminGet(`/v1/admin/broadcasts/${id}`)).json()) as BroadcastBody;

const emailRows = async (broadcastId: string) =>
  (
    await env.DB.prepare(
      "SELECT contact_id, count(*) AS n, max(status) AS status FROM emails WHERE broadcast_id = ? GROUP BY contact_id",
    )
      .bind(broadcastId)
      .all<{ contact_id: string; n: number; status: string }>()
  ).results;

/** Runs a broadcast's pages here from its cursor, as the backfill tests do. */
async function drain(deps: ReturnType<typeof recordedDeps>["deps"], id: string, now = new Date()) {
  for (let i = 0; i < 100; i++) {
    const job = (await env.DB.prepare("SELECT status, cursor FROM backfill_jobs WHERE id = ?")
      .bind(id)
      .first<{ status: string; cursor: string }>())!;
    if (!["pending", "processing"].includes(job.status)) return;
    await processBackfillPage(deps, { jobId: id, cursor: job.cursor }, now);
  }
}

describe("POST /v1/admin/broadcasts", () => {
  it("dry run: counts, skips by reason and three sample renders for real recipients; nothing is queued", async () => {
    const { importJobId, t } = await seedAudience(5);
    const res = await adminPost("/v1/admin/broadcasts", request(importJobId, { dryRun: true }));
    expect(res.status).toBe(200);
    const preview = (await res.json()) as BroadcastBody & { dryRun: true };
    expect(preview).toMatchObject({ dryRun: true, targeted: 9, queued: 5, skipped: SKIPS });
    expect(preview.samples).toHaveLength(3);
    expect(preview.samples![0]).toMatchObject({ to: `${t}_0@example.com`, subject: "We moved" });
    expect(preview.samples![0]!.html).toContain("/v1/email/unsubscribe?token=");
    const made = await env.DB.prepare(
      "SELECT count(*) AS n FROM emails e JOIN contacts c ON c.id = e.contact_id WHERE c.import_job_id = ?",
    )
      .bind(importJobId)
      .first<{ n: number }>();
    expect(made!.n).toBe(0);
  });

  it("dry run over a large audience: a dry-run job counts it page by page and keeps the samples; nothing is queued", async () => {
    const { importJobId } = await seedAudience(1001);
    const res = await adminPost("/v1/admin/broadcasts", request(importJobId, { dryRun: true }));
    expect(res.status).toBe(202);
    const { broadcastId } = (await res.json()) as { broadcastId: string };
    const { deps, sends } = recordedDeps();
    await drain(deps, broadcastId);
    const done = await getBroadcast(broadcastId);
    expect(done).toMatchObject({ status: "completed", targeted: 1005, queued: 1001, sent: 0, skipped: SKIPS });
    expect(done.samples).toHaveLength(3);
    expect(await emailRows(broadcastId)).toHaveLength(0);
    expect(sends.sent).toHaveLength(0);
  }, 30_000);

  it("sends each contact one email under redelivery and a crash after the commit; skips by reason", async () => {
    const { importJobId } = await seedAudience(25);
    const { deps, pages, sends } = recordedDeps();
    const { id } = await createBroadcast(deps, {
      ...request(importJobId),
      dryRun: false,
      data: request("").data,
    } as never);
    await env.DB.prepare("UPDATE backfill_jobs SET page_size = 10 WHERE id = ?").bind(id).run();

    // A fault inside the page's batch (D1 trigger): nothing of the page is written, the cursor stays.
    await env.DB.prepare(
      `CREATE TRIGGER bc_fault BEFORE INSERT ON emails WHEN NEW.broadcast_id = '${id}' BEGIN SELECT RAISE(ABORT, 'page fault'); END`,
    ).run();
    await expect(processBackfillPage(deps, { jobId: id, cursor: "" })).rejects.toThrow("page fault");
    await env.DB.prepare("DROP TRIGGER bc_fault").run();
    expect(await emailRows(id)).toHaveLength(0);

    // First page commits, then the invocation dies before handing out its sends.
    sends.fail.now = true;
    await expect(processBackfillPage(deps, { jobId: id, cursor: "" })).rejects.toThrow("invocation died");
    sends.fail.now = false;
    // Redelivered twice: the first finishes the lost page's sends, the second changes nothing.
    expect(await processBackfillPage(deps, { jobId: id, cursor: "" })).toBe("stale");
    expect(await processBackfillPage(deps, { jobId: id, cursor: "" })).toBe("stale");
    await drain(deps, id);
    // The last page's message delivered again after the walk ended.
    expect(await processBackfillPage(deps, pages.sent.at(-1)!.body as BackfillPageMessage)).toBe("ended");

    const rows = await emailRows(id);
    expect(rows).toHaveLength(29);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const ids = sends.sent.map((s) => (s.body as EmailSendMessage).emailId);
    expect(new Set(ids).size).toBe(25);
    expect(ids).toHaveLength(25);

    // Delivery (the email-send queue's work), each message twice: the provider is called once per email.
    const delivery = buildDeps(env).delivery;
    for (const emailId of [...ids, ...ids]) await deliverEmail(delivery, emailId);
    const done = await getBroadcast(id);
    expect(done).toMatchObject({ status: "completed", targeted: 29, queued: 0, sent: 25, failed: 0, skipped: SKIPS });
  }, 30_000);

  it("the same Idempotency-Key answers the first broadcast; a page re-sent by self-healing writes nothing new", async () => {
    const { importJobId } = await seedAudience(3);
    const key = unique("key");
    const post = () =>
      call("/v1/admin/broadcasts", {
        method: "POST",
        headers: { ...adminAuth(), "idempotency-key": key },
        json: request(importJobId),
      });
    const [a, b] = await Promise.all([post(), post()]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const first = (await a.json()) as { broadcastId: string };
    expect(((await b.json()) as { broadcastId: string }).broadcastId).toBe(first.broadcastId);
    const { deps } = recordedDeps();
    await drain(deps, first.broadcastId);
    await processBackfillPage(deps, { jobId: first.broadcastId, cursor: "" });
    const rows = await emailRows(first.broadcastId);
    expect(rows).toHaveLength(7);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM broadcasts WHERE idempotency_key = ?")
      .bind(key)
      .first<{ n: number }>();
    expect(n!.n).toBe(1);
  });

  it("a scheduled broadcast waits for sendAt (self-healing leaves it alone) and can be cancelled before", async () => {
    const { importJobId } = await seedAudience(2);
    const sendAt = new Date(Date.now() + 3600_000);
    const res = await adminPost("/v1/admin/broadcasts", request(importJobId, { sendAt: sendAt.toISOString() }));
    const { broadcastId, status } = (await res.json()) as { broadcastId: string; status: string };
    expect(status).toBe("scheduled");
    const { deps, pages } = recordedDeps();
    // A page message that arrives early goes back to wait for the rest.
    expect(await processBackfillPage(deps, { jobId: broadcastId, cursor: "" })).toBe("scheduled");
    expect(pages.sent[0]!.delaySeconds).toBeGreaterThan(3590);
    await healStalledBackfills(deps, Date.now() + 30 * 60_000);
    expect((await getBroadcast(broadcastId)).status).toBe("scheduled");

    const cancelled = await adminPost(`/v1/admin/broadcasts/${broadcastId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as BroadcastBody).status).toBe("cancelled");
    expect(await processBackfillPage(deps, { jobId: broadcastId, cursor: "" }, new Date(sendAt.getTime() + 1000))).toBe(
      "ended",
    );
    expect(await emailRows(broadcastId)).toHaveLength(0);
    expect((await adminPost(`/v1/admin/broadcasts/${broadcastId}/cancel`)).status).toBe(409);
  });

  it("starts when due: the first page runs at sendAt", async () => {
    const { importJobId } = await seedAudience(2);
    const { deps } = recordedDeps();
    const sendAt = new Date(Date.now() + 60_000);
    const { id } = await createBroadcast(deps, {
      ...request(importJobId),
      data: request("").data,
      sendAt,
      dryRun: false,
    } as never);
    expect(await processBackfillPage(deps, { jobId: id, cursor: "" }, new Date(sendAt.getTime() + 500))).toBe(
      "completed",
    );
    expect(await emailRows(id)).toHaveLength(6);
  });

  it("cancel stops queued emails not yet handed to the provider; a claimed one still goes", async () => {
    const { importJobId } = await seedAudience(4);
    const { deps, sends } = recordedDeps();
    const { id } = await createBroadcast(deps, {
      ...request(importJobId),
      data: request("").data,
      dryRun: false,
    } as never);
    await drain(deps, id);
    const ids = sends.sent.map((s) => (s.body as EmailSendMessage).emailId);
    // One email is mid-handover: the send step claimed it (sent_at set).
    await env.DB.prepare("UPDATE emails SET sent_at = ? WHERE id = ?").bind(Date.now(), ids[0]).run();
    const res = await adminPost(`/v1/admin/broadcasts/${id}/cancel`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "cancelled", cancelled: 3, queued: 1 });
    const delivery = buildDeps(env).delivery;
    for (const emailId of ids.slice(1)) expect((await deliverEmail(delivery, emailId)).status).toBe("skipped");
  });

  it("ratePerMinute: a page is a minute's worth, its sends spaced, the next page delayed", async () => {
    const { importJobId } = await seedAudience(12);
    const { deps, pages, sends } = recordedDeps();
    const { id } = await createBroadcast(deps, {
      ...request(importJobId),
      data: request("").data,
      ratePerMinute: 6,
      dryRun: false,
    } as never);
    expect(await processBackfillPage(deps, { jobId: id, cursor: "" })).toBe("continued");
    expect(sends.sent.map((s) => s.delaySeconds)).toEqual([undefined, 10, 20, 30, 40, 50]);
    expect(pages.sent.at(-1)!.delaySeconds).toBe(60);
  });

  it("a provider 429 is waited out (its Retry-After) on the email-send queue, never failed", async () => {
    const { importJobId } = await seedAudience(1);
    const { deps, sends } = recordedDeps();
    const { id } = await createBroadcast(deps, {
      ...request(importJobId),
      data: request("").data,
      dryRun: false,
    } as never);
    await drain(deps, id);
    const emailId = (sends.sent[0]!.body as EmailSendMessage).emailId;
    const limited = async () =>
      new Response(JSON.stringify({ name: "rate_limit_exceeded" }), { status: 429, headers: { "retry-after": "7" } });
    const delivery = { ...buildDeps(env).delivery, provider: resendProvider("re_test", limited) };
    const later = recordingQueue();
    const email = await deliverWhenDue(delivery, later.queue as unknown as Queue<EmailSendMessage>, emailId);
    expect(email).toMatchObject({ status: "queued", sentAt: null });
    expect(later.sent).toEqual([{ body: { emailId }, delaySeconds: 7 }]);
    expect(await getBroadcast(id)).toMatchObject({ queued: 1, sent: 0, failed: 0 });
    // Once the limit has passed, the re-sent message sends it.
    expect((await deliverWhenDue(buildDeps(env).delivery, later.queue as never, emailId)).status).toBe("sent");
  });

  it("an email the provider still rate-limits 72 hours after it was due fails instead of waiting forever", async () => {
    const { id: emailId } = await queuedEmail();
    const due = Date.now() - RATE_LIMIT_GIVE_UP_MS - 60_000;
    await env.DB.prepare("UPDATE emails SET created_at = ? WHERE id = ?").bind(due, emailId).run();
    const limited = async () => new Response(JSON.stringify({ name: "rate_limit_exceeded" }), { status: 429 });
    const delivery = { ...buildDeps(env).delivery, provider: resendProvider("re_test", limited) };
    const later = recordingQueue();
    const email = await deliverWhenDue(delivery, later.queue as unknown as Queue<EmailSendMessage>, emailId);
    expect(email).toMatchObject({ status: "failed", error: expect.stringContaining("rate-limiting") });
    expect(later.sent).toEqual([]);
  });

  it("lists broadcasts newest first, keyset paged; refuses a transactional template", async () => {
    const { importJobId } = await seedAudience(1);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          (await (await adminPost("/v1/admin/broadcasts", request(importJobId, { name: `b${i}` }))).json()) as {
            broadcastId: string;
          }
        ).broadcastId,
      );
    const page = (await (await adminGet("/v1/admin/broadcasts?limit=2")).json()) as {
      broadcasts: Array<{ id: string }>;
      nextCursor: string;
    };
    expect(page.broadcasts.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    const next = (await (await adminGet(`/v1/admin/broadcasts?limit=2&cursor=${page.nextCursor}`)).json()) as {
      broadcasts: Array<{ id: string }>;
    };
    expect(next.broadcasts[0]!.id).toBe(ids[0]);
    const tx = await adminPost("/v1/admin/broadcasts", request(importJobId, { template: "password-reset" }));
    expect(tx.status).toBe(400);
  });
});
