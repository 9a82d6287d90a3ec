import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { createDb } from "../src/db/client";
import { countRoundTrips, newRoundTripCounter } from "../src/db/round-trips";
import { hashKey } from "../src/services/api-keys/store";
import { KEY_CACHE_MAX_AGE_MS, KEY_CACHE_TTL_MS, verifyStoredKey } from "../src/services/api-keys/verify";
import { adminAuth, call, expectErrorShape, unique } from "./helpers";

type Created = { id: string; key: string; name: string; scopes: string[]; createdAt: string; expiresAt: string | null };
type Listed = { id: string; name: string; lastUsedAt: string | null; revokedAt: string | null };

async function createKey(body: Record<string, unknown>): Promise<Created> {
  const res = await call("/v1/admin/api-keys", { method: "POST", headers: adminAuth(), json: body });
  expect(res.status).toBe(201);
  return (await res.json()) as Created;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const ingest = (key: string) =>
  call("/v1/ingest", { method: "POST", headers: bearer(key), json: { event: "keyed", userId: unique("u") } });
const listed = async (id: string, query = "") => {
  const res = await call(`/v1/admin/api-keys${query}`, { headers: adminAuth() });
  return ((await res.json()) as { keys: Listed[] }).keys.find((k) => k.id === id);
};

describe("API keys", () => {
  it("are shown once with an hsk_ prefix; D1 keeps only their SHA-256", async () => {
    const created = await createKey({ name: "ci", scopes: ["operate", "operate"] });
    expect(created.key).toMatch(/^hsk_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ name: "ci", scopes: ["operate"], expiresAt: null });
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(created.id)
      .first<Record<string, unknown>>();
    expect(row!.key_hash).toBe(await hashKey(created.key));
    expect(JSON.stringify(row)).not.toContain(created.key.slice(4));
    const shown = await listed(created.id);
    expect(shown).toMatchObject({ id: created.id, name: "ci", revokedAt: null });
    expect(JSON.stringify(shown)).not.toContain("hsk_");
  });

  it("refuses bad scopes, an empty name and an expiry in the past, naming the field", async () => {
    for (const [body, field] of [
      [{ name: "x", scopes: ["everything"] }, "scopes"],
      [{ name: "x", scopes: [] }, "scopes"],
      [{ name: " ", scopes: ["read"] }, "name"],
      [{ name: "x", scopes: ["read"], expiresAt: "2001-01-01T00:00:00Z" }, "expiresAt"],
    ] as const) {
      const res = await call("/v1/admin/api-keys", { method: "POST", headers: adminAuth(), json: body });
      expect((await expectErrorShape(res, 400, "VALIDATION_ERROR")).error).toContain(field);
    }
  });

  it("ingest with a stored key costs one extra D1 round trip once per isolate, then none", async () => {
    const { key, id } = await createKey({ name: unique("ingest"), scopes: ["ingest"] });
    const first = await ingest(key);
    expect(first.status).toBe(202);
    // The lookup, plus last-used's first write (after the response, once a minute at most).
    expect(Number(first.headers.get("x-d1-round-trips"))).toBeLessThanOrEqual(3);
    for (let i = 0; i < 3; i++) {
      const warm = await ingest(key);
      expect(warm.status).toBe(202);
      expect(warm.headers.get("x-d1-round-trips")).toBe("1");
    }
    const bootstrap = await ingest(env.INGEST_API_KEY);
    expect(bootstrap.headers.get("x-d1-round-trips")).toBe("1");
    expect((await listed(id))!.lastUsedAt).not.toBeNull();
  });

  it("a made-up key is looked up once, then refused from memory", async () => {
    const madeUp = `hsk_${"Z".repeat(43)}`;
    const first = await ingest(madeUp);
    await expectErrorShape(first, 401, "UNAUTHORIZED");
    expect(first.headers.get("x-d1-round-trips")).toBe("1");
    const again = await ingest(madeUp);
    await expectErrorShape(again, 401, "UNAUTHORIZED");
    expect(again.headers.get("x-d1-round-trips")).toBe("0");
    // Not shaped like a stored key: never looked up.
    const other = await ingest("not-a-key");
    expect(other.headers.get("x-d1-round-trips")).toBe("0");
  });

  it("revoked: refused at once here, listed with revokedAt, gone from the default list", async () => {
    const { key, id } = await createKey({ name: unique("revoked"), scopes: ["read"] });
    expect((await call("/v1/admin/metrics/overview", { headers: bearer(key) })).status).toBe(200);
    const res = await call(`/v1/admin/api-keys/${id}`, { method: "DELETE", headers: adminAuth() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Listed).revokedAt).not.toBeNull();
    await expectErrorShape(await call("/v1/admin/metrics/overview", { headers: bearer(key) }), 401, "UNAUTHORIZED");
    expect(await listed(id)).toBeUndefined();
    expect((await listed(id, "?includeRevoked=true"))!.revokedAt).not.toBeNull();
    expect((await call(`/v1/admin/api-keys/${id}`, { method: "DELETE", headers: adminAuth() })).status).toBe(200);
    await expectErrorShape(
      await call("/v1/admin/api-keys/no-such-key", { method: "DELETE", headers: adminAuth() }),
      404,
      "NOT_FOUND",
    );
  });

  it("revoked elsewhere (another isolate's cache): refused once the 30 s cache entry lapses, inside 60 s", async () => {
    const { key, id } = await createKey({ name: unique("elsewhere"), scopes: ["read"] });
    const deps = { db: createDb(env.DB) };
    const now = Date.now();
    expect(await verifyStoredKey(deps, key, now)).toMatchObject({ id, scopes: ["read"] });
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(now, id).run();
    // Still in this isolate's memory (what another isolate that hadn't heard would do)...
    expect(await verifyStoredKey(deps, key, now + 1000)).not.toBeNull();
    // ...but never past the cache's lifetime, which is inside the promised 60 s.
    expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(60_000);
    expect(await verifyStoredKey(deps, key, now + KEY_CACHE_TTL_MS + 1)).toBeNull();
  });

  it("a burst of first requests with one key costs one D1 lookup, not one each", async () => {
    const { key, id } = await createKey({ name: unique("burst"), scopes: ["ingest"] });
    const trips = newRoundTripCounter();
    const after: Promise<unknown>[] = [];
    const deps = { db: createDb(countRoundTrips(env.DB, trips)), waitUntil: (p: Promise<unknown>) => after.push(p) };
    const now = Date.now();
    const principals = await Promise.all(Array.from({ length: 16 }, () => verifyStoredKey(deps, key, now)));
    expect(principals.every((p) => p?.id === id)).toBe(true);
    await Promise.all(after);
    // The lookup, and last-used's first write.
    expect(trips.count).toBe(2);
  });

  it("past 30 s a verified key is answered from memory while one request re-checks it after its response", async () => {
    const { key, id } = await createKey({ name: unique("recheck"), scopes: ["read"] });
    const trips = newRoundTripCounter();
    const after: Promise<unknown>[] = [];
    const deps = { db: createDb(countRoundTrips(env.DB, trips)), waitUntil: (p: Promise<unknown>) => after.push(p) };
    const now = Date.now();
    expect(await verifyStoredKey(deps, key, now)).toMatchObject({ id });
    await Promise.all(after.splice(0));
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(now, id).run();
    const before = trips.count;
    const stale = now + KEY_CACHE_TTL_MS + 1;
    // Both answered from memory; only one re-check goes to D1, after the response.
    expect(await verifyStoredKey(deps, key, stale)).toMatchObject({ id });
    expect(await verifyStoredKey(deps, key, stale)).toMatchObject({ id });
    expect(trips.count - before).toBeLessThanOrEqual(1);
    expect(after).toHaveLength(1);
    await Promise.all(after.splice(0));
    expect(await verifyStoredKey(deps, key, stale + 1)).toBeNull();
  });

  it("never answers from a verification older than KEY_CACHE_MAX_AGE_MS, inside the promised 60 s", async () => {
    const { key, id } = await createKey({ name: unique("max-age"), scopes: ["read"] });
    const deps = { db: createDb(env.DB), waitUntil: (_: Promise<unknown>) => undefined };
    const now = Date.now();
    expect(await verifyStoredKey(deps, key, now)).toMatchObject({ id });
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(now, id).run();
    expect(KEY_CACHE_MAX_AGE_MS).toBeLessThan(60_000);
    expect(await verifyStoredKey(deps, key, now + KEY_CACHE_MAX_AGE_MS + 1)).toBeNull();
  });

  it("expired: refused from its expiry on", async () => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    const { key, id, expiresAt } = await createKey({ name: unique("expiring"), scopes: ["read"], expiresAt: soon });
    expect(expiresAt).toBe(soon);
    const deps = { db: createDb(env.DB) };
    expect(await verifyStoredKey(deps, key)).toMatchObject({ id });
    expect(await verifyStoredKey(deps, key, Date.parse(soon) + 1)).toBeNull();
    await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    expect(await verifyStoredKey(deps, key, Date.now() + KEY_CACHE_TTL_MS + 1)).toBeNull();
  });

  it("BOOTSTRAP_KEYS=off turns the environment's keys off; stored keys keep working", async () => {
    const { key } = await createKey({ name: unique("after-bootstrap"), scopes: ["admin"] });
    const app = createApp();
    const send = async (token: string) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request("http://localhost/v1/admin/metrics/overview", { headers: bearer(token) }),
        { ...env, BOOTSTRAP_KEYS: "off" },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    await expectErrorShape(await send(env.ADMIN_API_KEY), 401, "UNAUTHORIZED");
    expect((await send(key)).status).toBe(200);
  });
});
