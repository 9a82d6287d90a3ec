import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { validateCandidate } from "../src/services/imports/rows";
import { adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";

/** Buffered events (PostHog's default) are written within seconds. */
async function waitForStoredEvent(id: string) {
  for (let i = 0; i < 150; i++) {
    const row = await env.DB.prepare("SELECT id FROM events WHERE id = ? AND processed_at IS NOT NULL")
      .bind(id)
      .first();
    if (row) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`event ${id} was never written`);
}

const ingest = (json: unknown) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const batch = (events: unknown[]) =>
  call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: { events } });

/** `{ a: [[[…]]] }` nested `levels` containers deep in total (the properties object is level 1). */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = "bottom";
  for (let i = 1; i < levels; i++) value = [value];
  return { a: value };
}

const eventsOf = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM events WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("property caps (depth 32, 64 KB)", () => {
  it("refuses an event nested ~1,100 levels deep with 400, and the user's later events are stored", async () => {
    const userId = unique("deep");
    const body = await expectErrorShape(
      await ingest({ event: "e", userId, properties: nested(1100) }),
      400,
      "VALIDATION_ERROR",
    );
    expect(body.error).toContain("properties");
    expect(body.error).toContain("32");
    expect(await eventsOf(userId)).toBe(0);

    const later = await ingest({ event: "e", userId, properties: { plan: "pro" } });
    expect(later.status).toBe(202);
    expect(((await later.json()) as { stored: boolean }).stored).toBe(true);
    expect((await adminGet(`/v1/admin/contacts/${userId}`)).status).toBe(200);
  });

  it("accepts exactly 32 levels and refuses 33", async () => {
    expect((await ingest({ event: "e", userId: unique("d32"), properties: nested(32) })).status).toBe(202);
    await expectErrorShape(await ingest({ event: "e", userId: unique("d33"), properties: nested(33) }), 400);
  });

  it("refuses properties over 64 KB as JSON, counting UTF-8 bytes", async () => {
    const userId = unique("big");
    await expectErrorShape(await ingest({ event: "e", userId, properties: { s: "€".repeat(22_000) } }), 400);
    expect((await ingest({ event: "e", userId, properties: { s: "x".repeat(60_000) } })).status).toBe(202);
  });

  it("fails only the poisoned item of a batch", async () => {
    const userId = unique("batchdeep");
    const res = await batch([
      { event: "a", userId },
      { event: "b", userId, properties: nested(40) },
      { event: "c", userId },
    ]);
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as { results: Array<Record<string, unknown>> };
    expect(results[0]).toMatchObject({ stored: true });
    expect(String(results[1]!.error)).toContain("properties");
    expect(results[2]).toMatchObject({ stored: true });
    expect(await eventsOf(userId)).toBe(2);
  });

  it("trims deep properties from PostHog (which accepted them), refuses them from batch enrollment and in import rows", async () => {
    const properties = { ...nested(50), kept: 1 };
    const ph = await call("/v1/webhooks/posthog", {
      method: "POST",
      headers: { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
      json: { event: { uuid: crypto.randomUUID(), event: "e", distinct_id: unique("ph"), properties }, person: null },
    });
    expect(ph.status).toBe(202);
    const { eventId, trimmed } = (await ph.json()) as { eventId: string; trimmed: string[] };
    expect(trimmed).toEqual(["a"]);
    await waitForStoredEvent(eventId);
    const stored = (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as { properties: unknown };
    expect(stored.properties).toEqual({ kept: 1, $trimmed: ["a"] });

    const userId = unique("enroll");
    const enroll = await adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", {
      users: [{ userId, userEmail: "deep@example.com", properties: nested(50) }],
    });
    expect((await expectErrorShape(enroll, 400, "VALIDATION_ERROR")).error).toContain("properties");
    expect((await adminGet(`/v1/admin/contacts/${userId}`)).status).toBe(404);

    expect(validateCandidate({ externalId: "x", properties: nested(50) })).toEqual({
      error: "properties nested deeper than 32 levels",
    });
  });

  it("reports an over-deep event stored before the caps instead of failing the replay", async () => {
    const id = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at, processed_at) VALUES (?, 'e', ?, ?, 'api', ?, ?, ?)",
    )
      .bind(id, unique("old"), JSON.stringify(nested(100)), Date.now(), Date.now(), Date.now())
      .run();
    const res = await adminPost("/v1/admin/events/replay", { eventIds: [id] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      replayed: 0,
      errors: [{ eventId: id, error: "properties nested deeper than 32 levels" }],
    });
  });
});

describe("idempotency keys of any valid length", () => {
  it("accepts a 255-character CJK key (765 UTF-8 bytes) and dedups it", async () => {
    const key = `${"漢".repeat(247)}${crypto.randomUUID().slice(0, 8)}`;
    expect(key).toHaveLength(255);
    const userId = unique("cjk");
    const first = await ingest({ event: "e", userId, idempotencyKey: key });
    expect(first.status).toBe(202);
    expect(((await first.json()) as { stored: boolean }).stored).toBe(true);
    const again = await ingest({ event: "e", userId, idempotencyKey: key });
    expect(((await again.json()) as { stored: boolean }).stored).toBe(false);
  });

  it("answers every item of a batch whose keys are long CJK strings", async () => {
    const prefix = crypto.randomUUID().slice(0, 8);
    const events = Array.from({ length: 20 }, (_, i) => ({
      event: "e",
      userId: unique("cjkb"),
      idempotencyKey: `${prefix}${String(i).padStart(3, "0")}${"鍵".repeat(244)}`,
    }));
    const { results } = (await (await batch(events)).json()) as { results: Array<{ stored?: boolean }> };
    expect(results.filter((r) => r.stored)).toHaveLength(20);
  });
});
