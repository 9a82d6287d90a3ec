import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { consumeWebhookDeliveries } from "../src/queues/webhook-deliveries";
import { createBackfillJob } from "../src/services/backfills/jobs";
import { DEFAULT_RETRY_SCHEDULE, deliverWebhook } from "../src/services/webhooks/deliver";
import { sweepWebhookDeliveries } from "../src/services/webhooks/deliveries";
import { pruneSettledWebhookDeliveries } from "../src/services/webhooks/prune";
import { drainBackfill, idleDeps, importCsv } from "./backfill-helpers";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, queuedEmail, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";

type Endpoint = { id: string; secret: string; url: string; events: string[]; enabled: boolean };
type Received = { url: string; headers: Record<string, string>; body: string };

/** The loopback receiver's stand-in at the fetch boundary: fails the first `failFirst` requests. */
function receiver(failFirst = 0) {
  const received: Received[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    received.push({
      url: String(input),
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: String(init?.body),
    });
    return new Response(null, { status: received.length <= failFirst ? 500 : 204 });
  }) as typeof fetch;
  return { received, fetcher };
}

function depsWith(fetcher: typeof fetch, retrySchedule = [0, 0]) {
  const deps = buildDeps(env);
  return { ...deps, webhookDelivery: { ...deps.webhookDelivery, fetch: fetcher, retrySchedule } };
}

/** Delivers outbox rows through the real consumer, as the queue would. */
async function consume(deps: ReturnType<typeof depsWith>, keys: Array<{ endpointId: string; eventId: string }>) {
  const batch = createMessageBatch(
    "hogsend-webhook-deliveries",
    keys.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await consumeWebhookDeliveries(batch, deps);
  return getQueueResult(batch, ctx);
}

async function createEndpoint(events: string[], url = `https://hooks.example.com/${unique("h")}`) {
  const res = await adminPost("/v1/admin/webhooks", { url, events, description: "test" });
  expect(res.status).toBe(201);
  return (await res.json()) as Endpoint;
}

const outbox = (endpointId: string) =>
  env.DB.prepare("SELECT * FROM webhook_messages WHERE endpoint_id = ? ORDER BY event_id")
    .bind(endpointId)
    .all<{ event_id: string; type: string; payload: string; status: string; attempts: number; user_id: string }>()
    .then((r) => r.results);

async function sendEmail() {
  const email = await queuedEmail();
  const deps = buildDeps(env);
  await (await import("../src/services/emails")).deliverEmail(deps.delivery, email.id);
  return email;
}

describe("webhook endpoints", () => {
  it("creates, reads, changes, rotates and deletes an endpoint; secrets only on create and rotate; audited", async () => {
    const created = await createEndpoint(["email.sent"]);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    const one = (await (await adminGet(`/v1/admin/webhooks/${created.id}`)).json()) as Record<string, unknown>;
    expect(one.secret).toBeUndefined();
    const list = (await (await adminGet("/v1/admin/webhooks")).json()) as { webhooks: Endpoint[] };
    expect(list.webhooks.map((w) => w.id)).toContain(created.id);

    const patched = await call(`/v1/admin/webhooks/${created.id}`, {
      method: "PATCH",
      headers: adminAuth(),
      json: { events: ["email.sent", "email.bounced"], enabled: false },
    });
    expect(await patched.json()).toMatchObject({ events: ["email.sent", "email.bounced"], enabled: false });

    const rotated = await adminPost(`/v1/admin/webhooks/${created.id}/rotate-secret`);
    const withSecret = (await rotated.json()) as Endpoint & { previousSecretUntil: string };
    expect(withSecret.secret).not.toBe(created.secret);
    expect(Date.parse(withSecret.previousSecretUntil) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);

    const audit = (await (await adminGet("/v1/admin/audit-log?action=rotateWebhookSecret")).json()) as {
      entries: unknown[];
    };
    expect(audit.entries.length).toBeGreaterThan(0);

    expect((await call(`/v1/admin/webhooks/${created.id}`, { method: "DELETE", headers: adminAuth() })).status).toBe(
      200,
    );
    await expectErrorShape(await adminGet(`/v1/admin/webhooks/${created.id}`), 404, "NOT_FOUND");
  });

  it("refuses http, private, loopback and link-local targets (no dev setting in tests)", async () => {
    for (const url of [
      "http://hooks.example.com/x",
      "https://localhost/x",
      "https://127.0.0.1/x",
      "https://10.1.2.3/x",
      "https://169.254.169.254/latest",
      "https://[::1]/x",
      "https://[fe80::1]/x",
      "https://192.168.0.10/x",
      "https://printer.local/x",
    ]) {
      const res = await adminPost("/v1/admin/webhooks", { url, events: ["email.sent"] });
      const body = await expectErrorShape(res, 400, "VALIDATION_ERROR");
      expect(body.error).toMatch(/^url: /);
    }
  });
});

describe("webhook deliveries", () => {
  it("signs per Standard Webhooks, retries failures, and records every attempt", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    const email = await sendEmail();
    const [row] = await outbox(endpoint.id);
    expect(row).toMatchObject({ type: "email.sent", status: "pending", user_id: email.userId });

    const target = receiver(2);
    const deps = depsWith(target.fetcher);
    const key = { endpointId: endpoint.id, eventId: row!.event_id };
    const first = await consume(deps, [key]);
    expect(first.retryMessages).toHaveLength(1);
    await consume(deps, [key]);
    const third = await consume(deps, [key]);
    expect(third.explicitAcks).toHaveLength(1);

    expect(target.received).toHaveLength(3);
    const wh = new Webhook(endpoint.secret);
    for (const request of target.received) {
      expect(request.headers["webhook-id"]).toBe(row!.event_id);
      const verified = wh.verify(request.body, request.headers) as { type: string; data: Record<string, unknown> };
      expect(verified).toMatchObject({ type: "email.sent", data: { emailId: email.id, status: "sent" } });
      expect(request.body).not.toContain("@"); // no address in the payload
    }
    const page = (await (await adminGet(`/v1/admin/webhooks/${endpoint.id}/deliveries`)).json()) as {
      deliveries: Array<{ id: string; status: string; attemptLog: Array<{ statusCode: number }> }>;
    };
    expect(page.deliveries[0]).toMatchObject({ id: row!.event_id, status: "delivered" });
    expect(page.deliveries[0]!.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 204]);
  });

  it("delivers once per event and endpoint however often the queue redelivers", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    await sendEmail();
    const [row] = await outbox(endpoint.id);
    const target = receiver();
    const deps = depsWith(target.fetcher);
    const key = { endpointId: endpoint.id, eventId: row!.event_id };
    await Promise.all([consume(deps, [key, key]), consume(deps, [key])]);
    await consume(deps, [key]);
    expect(target.received).toHaveLength(1);
  });

  it("backs off over more than 24 h, then dead-letters; a resend starts again with the same webhook-id", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    await sendEmail();
    const [row] = await outbox(endpoint.id);
    const target = receiver(1000);
    const deps = { ...depsWith(target.fetcher, DEFAULT_RETRY_SCHEDULE).webhookDelivery };
    const key = { endpointId: endpoint.id, eventId: row!.event_id };
    let now = Date.now();
    const waits: number[] = [];
    for (;;) {
      const { retryInSeconds } = await deliverWebhook(deps, key, now);
      if (retryInSeconds === null) break;
      waits.push(retryInSeconds);
      // Not due yet: a duplicate message sends nothing.
      expect((await deliverWebhook(deps, key, now + 1000)).retryInSeconds).toBeNull();
      now += retryInSeconds * 1000;
    }
    expect(waits).toEqual(DEFAULT_RETRY_SCHEDULE);
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3600);
    expect(target.received).toHaveLength(DEFAULT_RETRY_SCHEDULE.length + 1);
    expect((await outbox(endpoint.id))[0]).toMatchObject({ status: "dead" });

    const resent = await adminPost(`/v1/admin/webhooks/${endpoint.id}/deliveries/${key.eventId}/resend`);
    expect(resent.status).toBe(202);
    const ok = receiver();
    await consume(depsWith(ok.fetcher), [key]);
    expect(ok.received[0]!.headers["webhook-id"]).toBe(key.eventId);
    expect((await outbox(endpoint.id))[0]).toMatchObject({ status: "delivered" });
  });

  it("signs with the old and the new secret during a rotation's overlap", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    const rotated = (await (await adminPost(`/v1/admin/webhooks/${endpoint.id}/rotate-secret`)).json()) as Endpoint;
    await sendEmail();
    const [row] = await outbox(endpoint.id);
    const target = receiver();
    await consume(depsWith(target.fetcher), [{ endpointId: endpoint.id, eventId: row!.event_id }]);
    const request = target.received[0]!;
    expect(request.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    for (const secret of [endpoint.secret, rotated.secret]) new Webhook(secret).verify(request.body, request.headers);
  });

  it("refuses at send time a target the URL check refuses (a row written before the setting changed)", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    await env.DB.prepare("UPDATE webhook_endpoints SET url = 'https://10.0.0.5/hook' WHERE id = ?")
      .bind(endpoint.id)
      .run();
    await sendEmail();
    const [row] = await outbox(endpoint.id);
    const target = receiver();
    await consume(depsWith(target.fetcher), [{ endpointId: endpoint.id, eventId: row!.event_id }]);
    expect(target.received).toHaveLength(0);
    const attempts = await env.DB.prepare("SELECT error FROM webhook_attempts WHERE event_id = ?")
      .bind(row!.event_id)
      .all<{ error: string }>();
    expect(attempts.results[0]!.error).toMatch(/^refused: url: private/);
    expect((await outbox(endpoint.id))[0]).toMatchObject({ status: "dead" });
  });
});

describe("events written with the change they report", () => {
  const types = (rows: Array<{ type: string }>) => rows.map((row) => row.type).sort();

  it("email.delivered from a provider webhook, once even when the delivery is replayed", async () => {
    const endpoint = await createEndpoint(["email.delivered", "email.bounced"]);
    const email = await sendEmail();
    const sent = await env.DB.prepare("SELECT provider_message_id AS id FROM emails WHERE id = ?")
      .bind(email.id)
      .first<{ id: string | null }>();
    // The log provider keeps no provider id: give the row one, as Resend would.
    const messageId = sent?.id ?? `re_${crypto.randomUUID()}`;
    await env.DB.prepare("UPDATE emails SET provider_message_id = ? WHERE id = ?").bind(messageId, email.id).run();
    const body = JSON.stringify({
      type: "email.delivered",
      created_at: new Date().toISOString(),
      data: { email_id: messageId },
    });
    const at = new Date();
    const id = `msg_${crypto.randomUUID()}`;
    const headers = {
      "content-type": "application/json",
      "svix-id": id,
      "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
      "svix-signature": new Webhook(env.RESEND_WEBHOOK_SECRET).sign(id, at, body),
    };
    for (let i = 0; i < 2; i++) await call("/v1/webhooks/resend", { method: "POST", body, headers });
    const rows = await outbox(endpoint.id);
    expect(types(rows)).toEqual(["email.delivered"]);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ emailId: email.id, status: "delivered" });
  });

  it("contact.unsubscribed once, contact.erased with ids only, and erasure takes the person's deliveries", async () => {
    const endpoint = await createEndpoint(["email.sent", "contact.unsubscribed", "contact.erased"]);
    const email = await sendEmail();
    for (let i = 0; i < 2; i++) {
      const res = await call(`/v1/admin/contacts/${email.userId}/preferences`, {
        method: "PUT",
        headers: adminAuth(),
        json: { unsubscribed: true },
      });
      expect(res.status).toBe(200);
    }
    expect(types(await outbox(endpoint.id))).toEqual(["contact.unsubscribed", "email.sent"]);

    const erased = await call(`/v1/admin/contacts/${email.userId}`, { method: "DELETE", headers: adminAuth() });
    expect(erased.status).toBe(200);
    const rows = await outbox(endpoint.id);
    expect(types(rows)).toEqual(["contact.erased"]);
    expect(Object.keys(JSON.parse(rows[0]!.payload)).sort()).toEqual(["contactId", "userId"]);
  });

  it("import.completed and import.failed with the job's counts", async () => {
    const endpoint = await createEndpoint(["import.completed", "import.failed"]);
    const good = await startImport({ format: "csv", data: `externalId,email\n${unique("imp")},a@example.com\n` });
    await drainImport(good);
    const bad = await startImport({ format: "json", data: "{not json" });
    await drainImport(bad);
    const rows = await outbox(endpoint.id);
    const data = rows.map((row) => ({ type: row.type, ...JSON.parse(row.payload) }));
    expect(data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "import.completed", jobId: good, processedRows: 1, failedRows: 0 }),
        expect.objectContaining({ type: "import.failed", jobId: bad, status: "failed" }),
      ]),
    );
  });
});

describe("backfills and the sweep", () => {
  it("backfill.completed is written with the completing page; the cron's sweep queues rows nobody queued", async () => {
    const endpoint = await createEndpoint(["backfill.completed"]);
    const t = unique("bfw");
    const importJobId = await importCsv(`externalId,email\n${t}_1,${t}_1@example.com\n`);
    const job = await createBackfillJob(idleDeps(), {
      journeyKey: "activation-welcome",
      filter: { importJobId },
      pageSize: 20,
      dryRun: true,
    });
    await drainBackfill(job.id);
    const [row] = await outbox(endpoint.id);
    expect(row).toMatchObject({ type: "backfill.completed", status: "pending" });
    expect(JSON.parse(row!.payload)).toMatchObject({ jobId: job.id, status: "completed", dryRun: true });

    await env.DB.prepare("UPDATE webhook_messages SET next_attempt_at = ? WHERE endpoint_id = ?")
      .bind(Date.now() - 120_000, endpoint.id)
      .run();
    expect(await sweepWebhookDeliveries(buildDeps(env).webhooks)).toBeGreaterThanOrEqual(1);
  });
});

describe("retention of deliveries", () => {
  it("prunes settled deliveries past 30 days with their attempts; pending and recent ones stay", async () => {
    const endpoint = await createEndpoint(["email.sent"]);
    const old = Date.now() - 31 * 86_400_000;
    const rows: Array<[string, string, number]> = [
      ["old-delivered", "delivered", old],
      ["old-dead", "dead", old],
      ["old-pending", "pending", old],
      ["recent-delivered", "delivered", Date.now() - 86_400_000],
    ];
    await env.DB.batch(
      rows.flatMap(([eventId, status, at]) => [
        env.DB.prepare(
          `INSERT INTO webhook_messages (endpoint_id, event_id, type, payload, created_at, status, attempts, next_attempt_at)
           VALUES (?, ?, 'email.sent', '{}', ?, ?, 1, ?)`,
        ).bind(endpoint.id, eventId, at, status, at),
        env.DB.prepare(
          "INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempt, at, duration_ms) VALUES (?, ?, ?, 1, ?, 5)",
        ).bind(crypto.randomUUID(), endpoint.id, eventId, at),
      ]),
    );
    expect(await pruneSettledWebhookDeliveries(buildDeps(env).db)).toBe(2);
    expect((await outbox(endpoint.id)).map((row) => row.event_id)).toEqual(["old-pending", "recent-delivered"]);
    const attempts = await env.DB.prepare(
      "SELECT event_id FROM webhook_attempts WHERE endpoint_id = ? ORDER BY event_id",
    )
      .bind(endpoint.id)
      .all<{ event_id: string }>();
    expect(attempts.results.map((row) => row.event_id)).toEqual(["old-pending", "recent-delivered"]);
  });
});
