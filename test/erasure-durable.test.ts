import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { createDb } from "../src/db/client";
import type { BufferedEvent, IngestEventsMessage } from "../src/lib/queues";
import { sha256 } from "../src/lib/sha256";
import { journeyEmailRow } from "../src/services/emails";
import { eraseContact } from "../src/services/erasure";
import { type BackfillBody, backfill, drainBackfill } from "./backfill-helpers";
import { adminAuth, adminGet, call, ingestAuth, unique } from "./helpers";
import { deliver } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const erase = (id: string) =>
  call(`/v1/admin/contacts/${encodeURIComponent(id)}`, { method: "DELETE", headers: adminAuth() });
const ingest = (json: Record<string, unknown>) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

/** A buffered event as the ingest route queues it, accepted at `receivedAt`. */
function buffered(userId: string, receivedAt = Date.now()): BufferedEvent {
  return {
    id: crypto.randomUUID(),
    event: "profile:updated",
    userId,
    userEmail: `${userId}@example.com`,
    properties: { ssn: "078-05-1120", name: "Ada" },
    idempotencyKey: null,
    occurredAt: receivedAt,
    receivedAt,
  };
}
const message = (...events: BufferedEvent[]): IngestEventsMessage => ({ source: "posthog", events });

async function personWithContact(prefix: string) {
  const userId = unique(prefix);
  expect((await ingest({ event: "profile", userId, userEmail: `${userId}@example.com` })).status).toBe(202);
  return userId;
}

/** HMAC-SHA256 of the text under the test secret, computed here independently of src/. */
async function hmacUnderTestSecret(text: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.ERASURE_HASH_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return `hmac:${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

describe("work accepted before an erasure never brings the person back", () => {
  it("a buffered event queued before the erasure, delivered after it (and redelivered), writes nothing", async () => {
    const userId = await personWithContact("er1");
    const queued = message(buffered(userId));
    const erased = await erase(userId);
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ complete: true });

    for (const attempts of [1, 4]) {
      const result = await deliver("hogsend-ingest-events", [{ body: queued, attempts }]);
      expect(result.explicitAcks).toHaveLength(1);
      expect((await adminGet(`/v1/admin/contacts/${userId}`)).status).toBe(404);
      expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", userId)).toBe(0);
      expect(
        await count("SELECT count(*) AS n FROM contact_changes WHERE new_value = ?", `${userId}@example.com`),
      ).toBe(0);
    }
  });

  it("an event received after the erasure is the person coming back: written as usual", async () => {
    const userId = await personWithContact("er-back");
    expect((await erase(userId)).status).toBe(200);
    const later = message(buffered(userId, Date.now() + 5));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await deliver("hogsend-ingest-events", [{ body: later }]);
    expect((await adminGet(`/v1/admin/contacts/${userId}`)).status).toBe(200);
  });

  it("a dead letter recorded after the erasure keeps only other people's events", async () => {
    const userId = await personWithContact("er-dlq");
    const before = buffered(userId);
    const other = buffered(unique("someone-else"));
    expect((await erase(userId)).status).toBe(200);
    const id = crypto.randomUUID();
    await deliver("hogsend-ingest-events-dlq", [{ id, body: message(before, other), attempts: 6 }]);
    const letter = await env.DB.prepare("SELECT body FROM dead_letters WHERE message_id = ?")
      .bind(id)
      .first<{ body: string }>();
    expect(JSON.parse(letter!.body).events).toEqual([other]);
    expect(letter!.body).not.toContain(userId);
  });

  it("a backfill page committed while the erasure is under way can't enter the person", async () => {
    const userId = await personWithContact("er-bf");
    const budget = { sliceSize: 1, maxSlices: 1, maxKvDeletes: 1 };
    // suppress: false, so no hashed suppression refuses the entry on its own.
    const partial = await eraseContact(buildDeps(env).erasure, userId, { suppress: false, budget });
    expect(partial?.complete).toBe(false);
    const res = await backfill("activation-welcome", { filter: { search: userId } });
    expect(res.status).toBe(202);
    const done = await drainBackfill(((await res.json()) as BackfillBody).id);
    expect(done).toMatchObject({ status: "completed", matched: 1, enrolled: 0 });
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", userId)).toBe(0);
  });

  it("a journey send step in flight makes no email row once the enrollment is erased", async () => {
    const userId = await personWithContact("er-step");
    const row = await journeyEmailRow(createDb(env.DB), {
      enrollmentId: `gone-${userId}`,
      journeyKey: "activation-welcome",
      stepKey: "welcome",
      userId,
      templateKey: "welcome",
      props: { name: "Ada" },
    });
    expect(row).toBeNull();
    expect(await count("SELECT count(*) AS n FROM emails WHERE user_id = ?", userId)).toBe(0);
  });
});

describe("every address the person ever had ends hashed", () => {
  it("an unsubscribe under an earlier address is kept only as a keyed hash", async () => {
    const userId = unique("er-moved");
    const old = `${userId}-old@example.com`;
    const current = `${userId}-new@example.com`;
    const other = `${userId}-events@example.com`;
    expect((await ingest({ event: "profile", userId, userEmail: old })).status).toBe(202);
    const unsubscribed = await call(`/v1/admin/contacts/${userId}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { unsubscribed: true },
    });
    expect(unsubscribed.status).toBe(200);
    expect((await ingest({ event: "profile", userId, userEmail: current })).status).toBe(202);
    // An address only ever seen on an event (sync ingest of a non-api source keeps the contact's).
    await env.DB.prepare(
      "INSERT INTO events (id, event, user_id, user_email, properties, source, occurred_at, received_at) VALUES (?, 'x', ?, ?, '{}', 'api', ?, ?)",
    )
      .bind(crypto.randomUUID(), userId, other, Date.now(), Date.now())
      .run();

    const res = await erase(userId);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ complete: true, hashedSuppressions: 3 });
    for (const address of [old, current, other]) {
      expect(await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", address)).toBe(0);
      expect(
        await count("SELECT count(*) AS n FROM contact_changes WHERE old_value = ? OR new_value = ?", address, address),
      ).toBe(0);
    }
    const reasons = await env.DB.prepare(
      "SELECT email, reason FROM suppressions WHERE email IN (?, ?, ?) ORDER BY reason",
    )
      .bind(await hmacUnderTestSecret(old), await hmacUnderTestSecret(current), await hmacUnderTestSecret(other))
      .all<{ email: string; reason: string }>();
    expect(reasons.results.map((r) => r.reason)).toEqual(["erased", "erased", "unsubscribed"]);
    expect(reasons.results.find((r) => r.reason === "unsubscribed")!.email).toBe(await hmacUnderTestSecret(old));
  });
});

describe("what erasure leaves behind is keyed", () => {
  it("suppressions and markers are HMACs under ERASURE_HASH_SECRET, not bare SHA-256", async () => {
    const userId = await personWithContact("er-keyed");
    const address = `${userId}@example.com`;
    expect((await erase(userId)).status).toBe(200);
    expect(
      await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", await hmacUnderTestSecret(address)),
    ).toBe(1);
    expect(await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", await sha256(address))).toBe(0);
    expect(
      await count("SELECT count(*) AS n FROM erasure_markers WHERE id = ?", await hmacUnderTestSecret(userId)),
    ).toBe(1);
    expect(await count("SELECT count(*) AS n FROM archive_erasures WHERE id = ?", await sha256(userId))).toBe(0);
  });

  it("a suppression hashed before the keyed hash (bare SHA-256) still blocks a send", async () => {
    const userId = await personWithContact("er-legacy");
    const address = `${userId}@example.com`;
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'erased', ?)")
      .bind(await sha256(address), Date.now())
      .run();
    const prefs = await adminGet(`/v1/admin/contacts/${userId}/preferences`);
    expect(await prefs.json()).toMatchObject({ suppressed: true, suppressionReason: "erased" });
  });
});
