import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { deliver } from "./queues";

const ASYNC = { prefer: "respond-async" };
const ingest = (json: unknown, headers: Record<string, string> = ASYNC) =>
  call("/v1/ingest", { method: "POST", headers: { ...ingestAuth(), ...headers }, json });
const batch = (events: unknown[]) =>
  call("/v1/ingest/batch", { method: "POST", headers: { ...ingestAuth(), ...ASYNC }, json: { events } });

async function waitFor<T>(read: () => Promise<T | null | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > until) throw new Error("timed out waiting for the buffered write");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const processedRow = (id: string) =>
  env.DB.prepare("SELECT id, user_id, processed_at FROM events WHERE id = ? AND processed_at IS NOT NULL")
    .bind(id)
    .first<{ id: string; user_id: string }>();
const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;

describe("buffered ingest (Prefer: respond-async)", () => {
  it("acknowledges after a queue send with the id the row will have; the row is written and routed", async () => {
    const userId = unique("buf");
    const res = await ingest({ event: "user:signed_up", userId, userEmail: "buf@example.com", properties: { a: 1 } });
    expect(res.status).toBe(202);
    expect(res.headers.get("preference-applied")).toBe("respond-async");
    expect(res.headers.get("x-d1-round-trips")).toBe("0");
    const body = (await res.json()) as { accepted: boolean; eventId: string };
    expect(body).toEqual({ accepted: true, eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    await waitFor(() => processedRow(body.eventId));
    const event = (await (await adminGet(`/v1/admin/events/${body.eventId}`)).json()) as Record<string, unknown>;
    expect(event).toMatchObject({ userId, source: "api", properties: { a: 1 } });
    expect(await (await adminGet(`/v1/admin/contacts/${userId}`)).json()).toMatchObject({ email: "buf@example.com" });
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE trigger_event_id = ?", body.eventId)).toBe(1);
  });

  it("answers per item in a batch, refusing bad items and repeated keys, and writes the rest", async () => {
    const userId = unique("bufb");
    const key = unique("k");
    const res = await batch([
      { event: "a", userId, idempotencyKey: key },
      { event: "a", userId, idempotencyKey: key },
      { event: "b", userId: 42 },
      { event: "c", userId },
    ]);
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as { results: Array<Record<string, unknown>> };
    expect(results[0]).toEqual({ index: 0, accepted: true, eventId: expect.any(String) });
    expect(results[1]).toEqual({ index: 1, accepted: true, duplicate: true });
    expect(String(results[2]!.error)).toContain("userId");
    expect(results[3]).toEqual({ index: 3, accepted: true, eventId: expect.any(String) });
    await waitFor(() => processedRow(results[3]!.eventId as string));
    await waitFor(() => processedRow(results[0]!.eventId as string));
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", userId)).toBe(2);

    // Once written, the KV fast path knows the key: a retry is answered as a duplicate, not queued.
    const retry = await ingest({ event: "a", userId, idempotencyKey: key });
    expect(await retry.json()).toEqual({ accepted: true, duplicate: true });
  });

  it("keeps dedup exact when the same key is buffered twice before it is written (D1 decides)", async () => {
    const key = unique("race");
    const userId = unique("bufr");
    const answers = await Promise.all([1, 2, 3].map(() => ingest({ event: "e", userId, idempotencyKey: key })));
    const ids = (await Promise.all(answers.map((r) => r.json()))) as Array<{ eventId?: string }>;
    await waitFor(async () => (await count("SELECT count(*) AS n FROM events WHERE idempotency_key = ?", key)) > 0);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await count("SELECT count(*) AS n FROM events WHERE idempotency_key = ?", key)).toBe(1);
    expect(ids.filter((b) => b.eventId).length).toBeGreaterThanOrEqual(1);
  });

  it("stores a re-sent batch of more than 10 keyed events once (D1 decides; KV only learns small requests)", async () => {
    const prefix = unique("big");
    const events = Array.from({ length: 12 }, (_, i) => ({
      event: "e",
      userId: `${prefix}_${i}`,
      idempotencyKey: `${prefix}-${i}`,
    }));
    const first = (await (await batch(events)).json()) as { results: Array<{ eventId: string }> };
    await waitFor(() => processedRow(first.results[11]!.eventId));
    const again = (await (await batch(events)).json()) as {
      results: Array<{ accepted: boolean; duplicate?: boolean }>;
    };
    expect(again.results.every((r) => r.accepted && !r.duplicate)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await count("SELECT count(*) AS n FROM events WHERE idempotency_key LIKE ?", `${prefix}-%`)).toBe(12);
    expect(await count("SELECT count(*) AS n FROM contacts WHERE external_id LIKE ?", `${prefix}_%`)).toBe(12);
  });

  it("accepts a 255-character CJK idempotency key on the buffered path", async () => {
    const key = `${"鍵".repeat(247)}${crypto.randomUUID().slice(0, 8)}`;
    const res = await ingest({ event: "e", userId: unique("cjk"), idempotencyKey: key });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    await waitFor(() => processedRow(eventId));
  });

  it("still validates: bad input gets the error shape and queues nothing", async () => {
    await expectErrorShape(await ingest({ event: "e" }), 400, "VALIDATION_ERROR");
    await expectErrorShape(await call("/v1/ingest", { method: "POST", headers: ASYNC, json: { event: "e" } }), 401);
  });
});

const message = (events: Array<{ id: string; userId: string; event?: string; key?: string }>) => ({
  source: "api",
  events: events.map((e) => ({
    id: e.id,
    event: e.event ?? "user:signed_up",
    userId: e.userId,
    userEmail: null,
    properties: { n: 1 },
    idempotencyKey: e.key ?? null,
    occurredAt: Date.now(),
    receivedAt: Date.now(),
  })),
});

describe("ingest-events consumer", () => {
  it("writes a redelivered message once: one row, one enrollment, acked both times", async () => {
    const userId = unique("redeliver");
    const id = crypto.randomUUID();
    const body = message([{ id, userId }]);
    const first = await deliver("hogsend-ingest-events", [{ body }]);
    expect(first.explicitAcks).toHaveLength(1);
    const again = await deliver("hogsend-ingest-events", [{ body, attempts: 2 }]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await count("SELECT count(*) AS n FROM events WHERE id = ?", id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", userId)).toBe(1);
    expect(await processedRow(id)).not.toBeNull();
  });

  it("retries only the message whose write fails; the others in the batch are written", async () => {
    const bad = unique("fault");
    const good = unique("fine");
    await env.DB.exec(
      `CREATE TRIGGER IF NOT EXISTS fault_${bad} BEFORE INSERT ON events WHEN NEW.user_id = '${bad}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    );
    const goodId = crypto.randomUUID();
    const badMessage = { id: crypto.randomUUID(), body: message([{ id: crypto.randomUUID(), userId: bad }]) };
    const goodMessage = { id: crypto.randomUUID(), body: message([{ id: goodId, userId: good, event: "x" }]) };
    const result = await deliver("hogsend-ingest-events", [badMessage, goodMessage]);
    expect(result.explicitAcks).toEqual([goodMessage.id]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([badMessage.id]);
    expect(await processedRow(goodId)).not.toBeNull();
    await env.DB.exec(`DROP TRIGGER fault_${bad}`);
  });

  it("a dead buffered message is listed with the events that were never stored", async () => {
    const lostId = crypto.randomUUID();
    const messageId = crypto.randomUUID();
    const result = await deliver("hogsend-ingest-events-dlq", [
      { id: messageId, attempts: 6, body: message([{ id: lostId, userId: unique("lost") }]) },
    ]);
    expect(result.explicitAcks).toEqual([messageId]);
    const listed = (await (await adminGet("/v1/admin/dead-letters?queue=hogsend-ingest-events")).json()) as {
      deadLetters: Array<{ messageId: string; subject: string; error: string }>;
    };
    expect(listed.deadLetters.find((d) => d.messageId === messageId)).toMatchObject({
      subject: "events:1 not stored of 1",
      error: expect.stringContaining(lostId),
    });
  });
});
