import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";

const ingest = (json: unknown, headers: Record<string, string> = {}) =>
  call("/v1/ingest", { method: "POST", headers: { ...ingestAuth(), ...headers }, json });

const countEvents = async (where: string, ...binds: unknown[]) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE ${where}`)
    .bind(...binds)
    .first<{ n: number }>())!.n;

type Contact = {
  externalId: string;
  email: string | null;
  properties: Record<string, unknown>;
  firstSeenAt: string;
  lastSeenAt: string;
};
const contact = async (externalId: string) =>
  (await (await adminGet(`/v1/admin/contacts/${externalId}`)).json()) as Contact;

describe("POST /v1/ingest", () => {
  it("stores the event, upserts the contact and answers 202", async () => {
    const userId = unique("user");
    const res = await ingest({
      event: "user:signed_up",
      userId,
      userEmail: "ada@example.com",
      properties: { plan: "pro" },
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { stored: boolean; eventId: string; exits: unknown[] };
    expect(body).toMatchObject({ stored: true, exits: [] });
    expect(body.eventId).toMatch(/^[0-9a-f-]{36}$/);

    const stored = (await (await adminGet(`/v1/admin/events/${body.eventId}`)).json()) as Record<string, unknown>;
    expect(stored).toMatchObject({ event: "user:signed_up", userId, properties: { plan: "pro" }, source: "api" });
    expect(stored.processedAt).not.toBeNull();
    expect(await contact(userId)).toMatchObject({
      externalId: userId,
      email: "ada@example.com",
      properties: { plan: "pro" },
    });
  });

  it("uses the given timestamp as the occurrence time and widens first/last seen", async () => {
    const userId = unique("user");
    await ingest({ event: "a", userId, timestamp: "2025-01-15T10:00:00Z" });
    await ingest({ event: "b", userId, timestamp: "2025-01-10T10:00:00+00:00" });
    const c = await contact(userId);
    expect(c.firstSeenAt).toBe("2025-01-10T10:00:00.000Z");
    expect(c.lastSeenAt).toBe("2025-01-15T10:00:00.000Z");
    expect(await countEvents("user_id = ? AND occurred_at = ?", userId, Date.parse("2025-01-15T10:00:00Z"))).toBe(1);
  });

  it("merges properties into the contact and keeps the email when none is given", async () => {
    const userId = unique("user");
    await ingest({ event: "a", userId, userEmail: "first@example.com", properties: { plan: "free", company: "Acme" } });
    await ingest({ event: "b", userId, properties: { plan: "pro", seats: 3 } });
    expect(await contact(userId)).toMatchObject({
      email: "first@example.com",
      properties: { plan: "pro", company: "Acme", seats: 3 },
    });
    await ingest({ event: "c", userId, userEmail: "second@example.com" });
    expect((await contact(userId)).email).toBe("second@example.com");
  });

  it("drops a repeated idempotency key silently and changes nothing", async () => {
    const userId = unique("user");
    const key = unique("signup");
    const first = await ingest({ event: "user:signed_up", userId, properties: { plan: "free" }, idempotencyKey: key });
    expect((await first.json()) as object).toMatchObject({ stored: true });

    const again = await ingest({
      event: "user:signed_up",
      userId,
      properties: { plan: "HACKED" },
      userEmail: "x@example.com",
      idempotencyKey: key,
    });
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ stored: false, journeys: [], exits: [], skipped: [] });
    expect(await countEvents("idempotency_key = ?", key)).toBe(1);
    expect(await contact(userId)).toMatchObject({ email: null, properties: { plan: "free" } });
  });

  it("accepts the Idempotency-Key header instead of the body field", async () => {
    const key = unique("hdr");
    const userId = unique("user");
    await ingest({ event: "e", userId }, { "idempotency-key": key });
    const again = await ingest({ event: "e", userId }, { "idempotency-key": key });
    expect(((await again.json()) as { stored: boolean }).stored).toBe(false);
    expect(await countEvents("idempotency_key = ?", key)).toBe(1);

    const conflicting = await ingest({ event: "e", userId, idempotencyKey: "other" }, { "idempotency-key": key });
    const body = await expectErrorShape(conflicting, 400, "VALIDATION_ERROR");
    expect(body.error).toContain("idempotencyKey");
  });

  it("stores exactly one event when many requests race with one key (D1 is the guard, not KV)", async () => {
    const key = unique("race");
    const userId = unique("user");
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        ingest({ event: "race", userId, idempotencyKey: key, properties: { n: i } }),
      ),
    );
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<{ stored: boolean }>;
    expect(responses.every((r) => r.status === 202)).toBe(true);
    expect(bodies.filter((b) => b.stored)).toHaveLength(1);
    expect(await countEvents("idempotency_key = ?", key)).toBe(1);
  });

  it("still dedups when the KV fast path has forgotten the key", async () => {
    const key = unique("kvgone");
    const userId = unique("user");
    await ingest({ event: "e", userId, idempotencyKey: key });
    await env.IDEMPOTENCY_KEYS.delete(`idem:${key}`);
    const again = await ingest({ event: "e", userId, idempotencyKey: key });
    expect(((await again.json()) as { stored: boolean }).stored).toBe(false);
    expect(await countEvents("idempotency_key = ?", key)).toBe(1);
  });

  describe("bad input", () => {
    it("refuses a missing or wrong ingest key, and accepts the admin key", async () => {
      const json = { event: "e", userId: unique("user") };
      await expectErrorShape(await call("/v1/ingest", { method: "POST", json }), 401, "UNAUTHORIZED");
      await expectErrorShape(
        await call("/v1/ingest", { method: "POST", json, headers: { authorization: "Bearer nope" } }),
        401,
        "UNAUTHORIZED",
      );
      await expectErrorShape(
        await call("/v1/ingest", { method: "POST", json, headers: { authorization: env.INGEST_API_KEY } }),
        401,
      );
      expect((await call("/v1/ingest", { method: "POST", json, headers: adminAuth() })).status).toBe(202);
    });

    it("answers malformed JSON with 400 and stores nothing", async () => {
      const userId = unique("user");
      const res = await call("/v1/ingest", {
        method: "POST",
        headers: { ...ingestAuth(), "content-type": "application/json" },
        body: `{"event":"e","userId":"${userId}"`,
      });
      await expectErrorShape(res, 400, "BAD_REQUEST");
      expect(await countEvents("user_id = ?", userId)).toBe(0);
    });

    it("names the failing field for wrong types and missing fields", async () => {
      expect((await expectErrorShape(await ingest({ event: "e" }), 400, "VALIDATION_ERROR")).error).toContain("userId");
      expect((await expectErrorShape(await ingest({ event: 42, userId: "u" }), 400)).error).toContain("event");
      expect(
        (await expectErrorShape(await ingest({ event: "e", userId: "u", userEmail: "not-an-email" }), 400)).error,
      ).toContain("userEmail");
      expect(
        (await expectErrorShape(await ingest({ event: "e", userId: "u", timestamp: "yesterday" }), 400)).error,
      ).toContain("timestamp");
      expect(
        (await expectErrorShape(await ingest({ event: "e", userId: "u", properties: [1, 2] }), 400)).error,
      ).toContain("properties");
      expect((await expectErrorShape(await ingest([1, 2, 3]), 400)).code).toBe("VALIDATION_ERROR");
    });

    it("refuses a body that isn't JSON with 415", async () => {
      const res = await call("/v1/ingest", {
        method: "POST",
        headers: { ...ingestAuth(), "content-type": "text/plain" },
        body: "hello",
      });
      await expectErrorShape(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    });

    it("answers an oversized body with 413 and stores nothing", async () => {
      const userId = unique("user");
      const res = await ingest({ event: "e", userId, properties: { blob: "x".repeat(300 * 1024) } });
      await expectErrorShape(res, 413, "PAYLOAD_TOO_LARGE");
      expect(await countEvents("user_id = ?", userId)).toBe(0);
    });
  });
});

describe("POST /v1/ingest/batch", () => {
  const batch = (events: unknown) =>
    call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: { events } });

  it("answers per item: stored, duplicate, or the item's own error", async () => {
    const userId = unique("user");
    const key = unique("dup");
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "seen", userId, idempotencyKey: key },
    });

    const res = await batch([
      { event: "a", userId, properties: { step: 1 } },
      { event: "seen", userId, idempotencyKey: key },
      { event: "b", userId: 123 },
      { event: "c", userId, properties: { step: 3 }, idempotencyKey: `${key}-new` },
      { event: "c", userId, idempotencyKey: `${key}-new` },
    ]);
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as { results: Array<Record<string, unknown>> };
    expect(results).toHaveLength(5);
    expect(results[0]).toMatchObject({ index: 0, stored: true });
    expect(results[1]).toEqual({ index: 1, stored: false, duplicate: true });
    expect(results[2]).toMatchObject({ index: 2 });
    expect(results[2]!.error).toContain("userId");
    expect(results[3]).toMatchObject({ index: 3, stored: true });
    expect(results[4]).toEqual({ index: 4, stored: false, duplicate: true });
    expect(await countEvents("user_id = ?", userId)).toBe(3);
    expect((await contact(userId)).properties).toEqual({ step: 3 });
  });

  it("applies several events for one user in order", async () => {
    const userId = unique("user");
    const res = await batch([
      { event: "a", userId, userEmail: "one@example.com", properties: { plan: "free", a: 1 } },
      { event: "b", userId, properties: { plan: "pro" } },
      { event: "c", userId, userEmail: "two@example.com", properties: { b: 2 } },
    ]);
    expect(res.status).toBe(202);
    expect(await contact(userId)).toMatchObject({ email: "two@example.com", properties: { plan: "pro", a: 1, b: 2 } });
  });

  it("takes 500 events in one request", async () => {
    const prefix = unique("bulk");
    const events = Array.from({ length: 500 }, (_, i) => ({
      event: "history",
      userId: `${prefix}_${i % 50}`,
      properties: { i },
      idempotencyKey: `${prefix}-${i}`,
      timestamp: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    }));
    const res = await batch(events);
    const { results } = (await res.json()) as { results: Array<{ stored: boolean }> };
    expect(results.filter((r) => r.stored)).toHaveLength(500);
    expect(await countEvents("idempotency_key LIKE ?", `${prefix}-%`)).toBe(500);
    expect((await contact(`${prefix}_7`)).properties).toEqual({ i: 457 });
  });

  it("uses as many D1 round trips for 500 events as for 5, and 3 for a single ingest", async () => {
    const trips = async (count: number) => {
      const prefix = unique("trips");
      const events = Array.from({ length: count }, (_, i) => ({
        event: "history",
        userId: `${prefix}_${i}`,
        idempotencyKey: `${prefix}-${i}`,
      }));
      return Number((await batch(events)).headers.get("x-d1-round-trips"));
    };
    expect(await trips(500)).toBe(await trips(5));
    const single = await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "history", userId: unique("one") },
    });
    expect(single.headers.get("x-d1-round-trips")).toBe("3");
  });

  it("rejects more than 500 events, an empty list, and a missing list", async () => {
    const events = Array.from({ length: 501 }, (_, i) => ({ event: "e", userId: `u${i}` }));
    expect((await expectErrorShape(await batch(events), 400, "VALIDATION_ERROR")).error).toContain("events");
    await expectErrorShape(await batch([]), 400, "VALIDATION_ERROR");
    await expectErrorShape(await call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: {} }), 400);
    await expectErrorShape(await call("/v1/ingest/batch", { method: "POST", json: { events: [] } }), 401);
  });
});
