import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Detail = {
  id: string;
  externalId: string;
  email: string | null;
  properties: Record<string, unknown>;
  unsubscribedAt: string | null;
  aliases: Array<{ alias: string; kind: string }>;
  merges: Array<{ id: string; from: string; source: string; moved: Record<string, number> }>;
};
type MergeBody = {
  dryRun: boolean;
  mergeId: string | null;
  moved: Record<string, number>;
  endedEnrollments: number;
  filled: { properties: string[]; email: boolean };
};
const detail = async (id: string) =>
  (await (await adminGet(`/v1/admin/contacts/${encodeURIComponent(id)}`)).json()) as Detail;
const ingest = async (json: Record<string, unknown>) =>
  (await (await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json })).json()) as {
    stored: boolean;
    eventId: string;
    skipped: Array<{ journey: string; reason: string }>;
  };
const merge = (body: Record<string, unknown>) => adminPost("/v1/admin/contacts/merge", body);
const rows = async (sql: string, ...binds: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...binds)
      .all<Record<string, unknown>>()
  ).results;

describe("POST /v1/admin/contacts/merge", () => {
  it("a dry run reports what would move and writes nothing", async () => {
    const [a, b] = [unique("dry_a"), unique("dry_b")];
    await ingest({ event: "app:opened", userId: a, userEmail: `${a}@example.com`, properties: { plan: "pro" } });
    await ingest({ event: "app:opened", userId: a });
    await ingest({ event: "app:opened", userId: b, properties: { seats: 3 } });
    const res = await merge({ from: a, into: b, dryRun: true });
    expect(res.status).toBe(200);
    expect((await res.json()) as MergeBody).toMatchObject({
      dryRun: true,
      mergeId: null,
      moved: { events: 2, emails: 0, enrollments: 0, aliases: 1 },
      filled: { properties: ["plan"], email: true },
    });
    expect((await detail(a)).externalId).toBe(a);
    expect((await detail(b)).email).toBeNull();
  });

  it("moves events, emails, enrollments and history; into keeps its values; from's id becomes an alias", async () => {
    const [a, b] = [unique("from"), unique("into")];
    const key = unique("signup");
    await ingest({ event: "user:signed_up", userId: a, userEmail: `${a}@example.com`, idempotencyKey: key });
    await ingest({ event: "app:opened", userId: a, properties: { plan: "pro", company: "Acme" } });
    await ingest({ event: "user:signed_up", userId: b, userEmail: `${b}@example.com`, properties: { plan: "free" } });
    const res = await merge({ from: a, into: b });
    expect(res.status).toBe(200);
    const body = (await res.json()) as MergeBody;
    expect(body).toMatchObject({
      dryRun: false,
      moved: { events: 2, enrollments: 1, aliases: 1 },
      endedEnrollments: 1, // both were running activation-welcome (a `once` journey): into's stays
      filled: { properties: ["company"], email: false },
    });

    const person = await detail(a); // the old id finds the person
    expect(person).toMatchObject({
      externalId: b,
      email: `${b}@example.com`,
      properties: { plan: "free", company: "Acme" },
      aliases: [{ alias: a, kind: "merged" }],
      merges: [{ id: body.mergeId, from: a, source: "admin", moved: { events: 2, enrollments: 1 } }],
    });
    expect(await rows("SELECT id FROM contacts WHERE external_id = ?", a)).toHaveLength(0);
    expect(await rows("SELECT id FROM events WHERE user_id = ?", b)).toHaveLength(3);
    const enrollments = await rows(
      "SELECT status, exit_reason FROM enrollments WHERE user_id = ? AND journey_key = 'activation-welcome' ORDER BY exit_reason IS NULL DESC",
      b,
    );
    expect(enrollments).toEqual([
      // into's keeps running (its workflow may already wait on its first step)
      { status: expect.stringMatching(/^(active|waiting)$/), exit_reason: null },
      { status: "exited", exit_reason: "merged" },
    ]);

    // Late arrivals: an event for the old id lands on the person, and its idempotency key still holds.
    expect(await ingest({ event: "user:signed_up", userId: a, idempotencyKey: key })).toMatchObject({ stored: false });
    const late = await ingest({ event: "user:signed_up", userId: a });
    expect(late.skipped).toEqual([{ journey: "activation-welcome", reason: "already_entered_once" }]);
    expect(await rows("SELECT id FROM events WHERE user_id = ?", a)).toHaveLength(0);
    expect(await rows("SELECT id FROM contacts WHERE external_id = ?", a)).toHaveLength(0);

    await expectErrorShape(await merge({ from: a, into: b }), 422, "UNPROCESSABLE");
  });

  it("an unsubscribe or a suppression of from covers the merged person", async () => {
    const [a, b, c] = [unique("unsub"), unique("keeper"), unique("bounced")];
    await ingest({ event: "app:opened", userId: a, userEmail: `${a}@example.com` });
    await call(`/v1/admin/contacts/${a}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { unsubscribed: true },
    });
    await ingest({ event: "app:opened", userId: b, userEmail: `${b}@example.com` });
    expect((await merge({ from: a, into: b })).status).toBe(200);
    expect((await detail(b)).unsubscribedAt).not.toBeNull();
    expect((await ingest({ event: "user:signed_up", userId: b })).skipped).toEqual([
      { journey: "activation-welcome", reason: "unsubscribed" },
    ]);

    await ingest({ event: "app:opened", userId: c, userEmail: `${c}@example.com` });
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(`${c}@example.com`, Date.now())
      .run();
    const d = unique("fresh");
    await ingest({ event: "app:opened", userId: d, userEmail: `${d}@example.com` });
    expect((await merge({ from: c, into: d })).status).toBe(200);
    expect((await ingest({ event: "user:signed_up", userId: d })).skipped).toEqual([
      { journey: "activation-welcome", reason: "suppressed" },
    ]);
  });

  it("topic choices follow the person: into's stand, from's fill the rest, and a no from either wins", async () => {
    const [a, b] = [unique("topics_from"), unique("topics_into")];
    const choose = (userId: string, topics: Record<string, boolean>) =>
      call(`/v1/admin/contacts/${userId}/preferences`, { method: "PUT", headers: adminAuth(), json: { topics } });
    await ingest({ event: "app:opened", userId: a });
    await ingest({ event: "app:opened", userId: b });
    expect((await choose(a, { "product-updates": false, onboarding: true, reminders: false })).status).toBe(200);
    expect((await choose(b, { onboarding: false, reminders: true })).status).toBe(200);
    expect((await merge({ from: a, into: b })).status).toBe(200);
    const body = (await (await adminGet(`/v1/admin/contacts/${b}/preferences`)).json()) as {
      topics: Array<{ key: string; choice: boolean | null }>;
    };
    expect(Object.fromEntries(body.topics.map((t) => [t.key, t.choice]))).toEqual({
      onboarding: false,
      reminders: false,
      "product-updates": false,
      "weekly-digest": null,
    });
    expect(
      await rows("SELECT topic_key FROM topic_preferences WHERE contact_id NOT IN (SELECT id FROM contacts)"),
    ).toEqual([]);
  });

  it("answers 404 for an unknown contact", async () => {
    const a = unique("known");
    await ingest({ event: "app:opened", userId: a });
    await expectErrorShape(await merge({ from: unique("nobody"), into: a }), 404, "NOT_FOUND");
  });

  it("merges a person with 1,000 events in one write round trip", async () => {
    const [a, b] = [unique("big"), unique("target")];
    await ingest({ event: "app:opened", userId: a });
    await ingest({ event: "app:opened", userId: b });
    await env.DB.prepare(
      `INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at, processed_at)
       SELECT lower(hex(randomblob(16))), 'page:viewed', ?, '{}', 'api', ?, ?, ? FROM json_each(?)`,
    )
      .bind(a, Date.now(), Date.now(), Date.now(), JSON.stringify(Array.from({ length: 999 }, (_, i) => i)))
      .run();
    const started = performance.now();
    const res = await merge({ from: a, into: b });
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    expect(((await res.json()) as MergeBody).moved.events).toBe(1000);
    // Two lookups (from, into), the merge batch with its audit entry, then the moved counts added to
    // the entry (5 when the entry was written before the batch and finished after it).
    expect(res.headers.get("x-d1-round-trips")).toBe("4");
    console.log(
      `merge of a person with 1,000 events: ${ms.toFixed(0)} ms, ${res.headers.get("x-d1-round-trips")} D1 round trips (audit entry included)`,
    );
    expect(await rows("SELECT id FROM events WHERE user_id = ?", b)).toHaveLength(1001);
  });
});
