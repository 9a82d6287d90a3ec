import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, call, expectErrorShape, ingestAuth, testHash, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Entry = {
  id: string;
  at: string;
  keyId: string;
  keyName: string;
  method: string;
  route: string;
  action: string;
  targetIds: string[];
  counts: Record<string, number>;
  outcome: string;
  status: number | null;
  requestId: string;
};

async function newKey(scopes: string[], name = unique("audit")) {
  const res = await call("/v1/admin/api-keys", { method: "POST", headers: adminAuth(), json: { name, scopes } });
  return (await res.json()) as { id: string; key: string; name: string };
}

async function entries(query: string) {
  const res = await call(`/v1/admin/audit-log?${query}`, { headers: adminAuth() });
  expect(res.status).toBe(200);
  return (await res.json()) as { entries: Entry[]; nextCursor: string | null };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const enrollBatch = (key: string, users: Array<{ userId: string; userEmail?: string }>) =>
  call("/v1/admin/journeys/activation-welcome/enroll/batch", { method: "POST", headers: bearer(key), json: { users } });

describe("audit log", () => {
  it("records a bulk operation: who (key id and name), what, targets, counts, outcome, request id", async () => {
    const script = await newKey(["operate"]);
    const tag = unique("mig");
    const res = await enrollBatch(script.key, [
      { userId: `${tag}_a`, userEmail: `${tag}_a@example.com` },
      { userId: `${tag}_b`, userEmail: `${tag}_b@example.com` },
    ]);
    expect(res.status).toBe(200);
    const {
      entries: [entry],
      nextCursor,
    } = await entries(`keyId=${script.id}`);
    expect(nextCursor).toBeNull();
    expect(entry).toMatchObject({
      keyId: script.id,
      keyName: script.name,
      method: "POST",
      route: "/v1/admin/journeys/{key}/enroll/batch",
      action: "enrollJourneyBatch",
      targetIds: ["activation-welcome"],
      counts: { enrolled: 2, skipped: 0 },
      outcome: "ok",
      status: 200,
      requestId: res.headers.get("x-request-id"),
    });
    // Ids and counts only: no address, no user id in clear.
    expect(JSON.stringify(entry)).not.toContain(tag);
  });

  it("records a refused erasure as `forbidden`, and the real one with the person only as a keyed hash", async () => {
    const script = await newKey(["operate"]);
    const userId = unique("erased");
    const email = `${userId}@example.com`;
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "x", userId, userEmail: email } });
    const refused = await call(`/v1/admin/contacts/${userId}`, { method: "DELETE", headers: bearer(script.key) });
    expect((await expectErrorShape(refused, 403, "FORBIDDEN")).error).toContain("`admin`");
    const erased = await call(`/v1/admin/contacts/${userId}`, { method: "DELETE", headers: adminAuth() });
    expect(erased.status).toBe(200);

    const { entries: list } = await entries("action=eraseContact");
    const hashed = await testHash(userId);
    const mine = list.filter((e) => e.targetIds.includes(hashed));
    expect(mine.map((e) => [e.keyId, e.outcome, e.status])).toEqual([
      ["bootstrap-admin", "ok", 200],
      [script.id, "forbidden", 403],
    ]);
    expect(mine[0]!.counts).toMatchObject({ "removed.contact": 1, "removed.events": 1 });
    const stored = await env.DB.prepare("SELECT * FROM audit_log WHERE instr(target_ids, ?) > 0").bind(hashed).all();
    expect(JSON.stringify(stored.results)).not.toContain(userId);
    expect(JSON.stringify(stored.results)).not.toContain("example.com");
  });

  it("records failures, key creation and revocation (never the key), and no reads", async () => {
    const operator = await newKey(["admin"]);
    const bad = await enrollBatch(operator.key, []);
    await expectErrorShape(bad, 400, "VALIDATION_ERROR");
    const made = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: bearer(operator.key),
      json: { name: unique("child"), scopes: ["read"] },
    });
    const child = (await made.json()) as { id: string; key: string };
    await call(`/v1/admin/api-keys/${child.id}`, { method: "DELETE", headers: bearer(operator.key) });
    await call("/v1/admin/metrics/overview", { headers: bearer(operator.key) });

    const { entries: list } = await entries(`keyId=${operator.id}`);
    expect(list.map((e) => [e.action, e.outcome, e.status])).toEqual([
      ["revokeApiKey", "ok", 200],
      ["createApiKey", "ok", 201],
      ["enrollJourneyBatch", "failed", 400],
    ]);
    expect(list[0]!.targetIds).toEqual([child.id]);
    expect(list[1]!.targetIds).toEqual([child.id]);
    expect(JSON.stringify(list)).not.toContain(child.key.slice(4));
  });

  it("keeps a person's id that an answer reports only as its keyed hash (a cancelled enrollment's userId)", async () => {
    const script = await newKey(["operate"]);
    const userId = unique("cancelled");
    const signedUp = await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "user:signed_up", userId },
    });
    const { journeys } = (await signedUp.json()) as { journeys: Array<{ enrollmentId: string }> };
    const enrollmentId = journeys[0]!.enrollmentId;
    const cancel = await call(`/v1/admin/journeys/activation-welcome/enrollments/${enrollmentId}`, {
      method: "DELETE",
      headers: bearer(script.key),
    });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { userId: string }).userId).toBe(userId);
    const [entry] = (await entries(`keyId=${script.id}&action=exitJourneyEnrollment`)).entries;
    expect(entry!.targetIds).toEqual(
      expect.arrayContaining(["activation-welcome", enrollmentId, await testHash(userId)]),
    );
    expect(JSON.stringify(entry)).not.toContain(userId);
  });

  it("records every export page (a bulk read of personal data), but no other read", async () => {
    const script = await newKey(["operate"]);
    const exported = await call("/v1/admin/contacts/export?format=ndjson&limit=1", { headers: bearer(script.key) });
    expect(exported.status).toBe(200);
    await exported.arrayBuffer();
    await call("/v1/admin/contacts?limit=1", { headers: bearer(script.key) });
    const { entries: list } = await entries(`keyId=${script.id}`);
    expect(list.map((e) => [e.method, e.route, e.outcome, e.status])).toEqual([
      ["GET", "/v1/admin/contacts/export", "ok", 200],
    ]);
    expect(list[0]).toMatchObject({ targetIds: [], counts: {} });
  });

  it("filters by time, key and action, and pages with a cursor", async () => {
    const script = await newKey(["operate"]);
    const from = new Date().toISOString();
    for (let i = 0; i < 3; i++) await enrollBatch(script.key, [{ userId: unique("page") }]);
    const first = await entries(`keyId=${script.id}&limit=2`);
    expect(first.entries).toHaveLength(2);
    const second = await entries(`keyId=${script.id}&limit=2&cursor=${first.nextCursor}`);
    expect(second.entries).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    const ids = [...first.entries, ...second.entries].map((e) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expect((await entries(`keyId=${script.id}&from=${from}&action=enrollJourneyBatch`)).entries).toHaveLength(3);
    expect((await entries(`keyId=${script.id}&to=${from}`)).entries).toHaveLength(0);
    expect((await entries(`keyId=${script.id}&action=replayEvents`)).entries).toHaveLength(0);
  });

  it("never lets a change happen without its entry: if the entry can't be written, nothing runs", async () => {
    const script = await newKey(["operate"], unique("unauditable"));
    await env.DB.prepare(
      `CREATE TRIGGER IF NOT EXISTS audit_refused BEFORE INSERT ON audit_log WHEN NEW.key_name = '${script.name}'
       BEGIN SELECT RAISE(ABORT, 'audit write failed'); END`,
    ).run();
    const userId = unique("never");
    try {
      const res = await enrollBatch(script.key, [{ userId }]);
      await expectErrorShape(res, 500, "INTERNAL_ERROR");
    } finally {
      await env.DB.prepare("DROP TRIGGER audit_refused").run();
    }
    const contact = await env.DB.prepare("SELECT 1 FROM contacts WHERE external_id = ?").bind(userId).first();
    expect(contact).toBeNull();
    const enrollments = await env.DB.prepare("SELECT 1 FROM enrollments WHERE user_id = ?").bind(userId).first();
    expect(enrollments).toBeNull();
  });
});
