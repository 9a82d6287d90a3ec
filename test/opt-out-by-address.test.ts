import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { signUnsubscribeToken } from "../src/lib/tokens";
import { deliverEmail } from "../src/services/emails";
import { adminAuth, adminGet, call, ingestAuth, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

type IngestBody = {
  journeys: Array<{ journey: string; enrollmentId: string }>;
  skipped: Array<{ journey: string; reason: string }>;
};
type Change = { field: string; from: string | null; to: string | null; source: string; at: string };
type Prefs = { unsubscribed: boolean; suppressed: boolean; suppressionReason: string | null; changes: Change[] };

const ingest = async (json: Record<string, unknown>) =>
  (await (await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json })).json()) as IngestBody;
const putPreferences = (id: string, json: Record<string, unknown>) =>
  call(`/v1/admin/contacts/${id}/preferences`, { method: "PUT", headers: adminAuth(), json });
const preferences = async (id: string) =>
  (await (await adminGet(`/v1/admin/contacts/${id}/preferences`)).json()) as Prefs;
const contactId = async (userId: string) =>
  ((await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { id: string }).id;
const emailsTo = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

async function unsubscribeByLink(userId: string) {
  const token = await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, await contactId(userId));
  const res = await call(`/v1/email/unsubscribe?token=${token}`, { method: "POST" });
  expect(res.status).toBe(200);
}

introspectJourneysForFile();

describe("an unsubscribe belongs to the address", () => {
  it("an unsubscribed address gets nothing under any contact id (new id, same address, any case)", async () => {
    const victim = unique("victim");
    const address = `${victim}@example.com`;
    await ingest({ event: "profile", userId: victim, userEmail: address });
    await unsubscribeByLink(victim);
    expect(await preferences(victim)).toMatchObject({
      unsubscribed: true,
      suppressed: true,
      suppressionReason: "unsubscribed",
    });

    for (const [alt, email] of [
      [`${victim}-alt`, address],
      [`${victim}-upper`, address.toUpperCase()],
    ] as const) {
      const body = await ingest({ event: "user:signed_up", userId: alt, userEmail: email });
      expect(body.journeys).toEqual([]);
      expect(body.skipped).toEqual([{ journey: "activation-welcome", reason: "unsubscribed" }]);
      expect(await emailsTo(alt)).toBe(0);
    }
  });

  it("delivery checks the address the contact has at send time", async () => {
    const victim = unique("sendtime");
    const other = unique("sendtime_other");
    await ingest({ event: "profile", userId: victim, userEmail: `${victim}@example.com` });
    await ingest({ event: "profile", userId: other, userEmail: `${other}@example.com` });
    const id = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO emails (id, user_id, template_key, props, status, created_at, updated_at) VALUES (?, ?, 'welcome', '{}', 'queued', ?, ?)",
    )
      .bind(id, other, Date.now(), Date.now())
      .run();
    // Queued while `other` had a clean address; by send time it has the unsubscribed one.
    await unsubscribeByLink(victim);
    await ingest({ event: "profile", userId: other, userEmail: `${victim}@example.com` });

    const email = await deliverEmail(buildDeps(env).delivery, id);
    expect(email).toMatchObject({ status: "suppressed", error: "Address suppressed: unsubscribed", sentAt: null });
  });

  it("admin unsubscribe suppresses the address; unsubscribed:false lifts both and is recorded", async () => {
    const userId = unique("prefs");
    await ingest({ event: "profile", userId, userEmail: `${userId}@example.com` });
    await putPreferences(userId, { unsubscribed: true });
    expect(
      (await ingest({ event: "user:signed_up", userId: `${userId}-2`, userEmail: `${userId}@example.com` })).skipped,
    ).toEqual([{ journey: "activation-welcome", reason: "unsubscribed" }]);

    const res = await putPreferences(userId, { unsubscribed: false });
    expect(res.status).toBe(200);
    const after = (await res.json()) as Prefs;
    expect(after).toMatchObject({ unsubscribed: false, suppressed: false, suppressionReason: null });
    expect(after.changes.map(({ field, from, to, source }) => ({ field, from, to, source }))).toEqual([
      { field: "unsubscribed", from: "true", to: "false", source: "admin" },
      { field: "unsubscribed", from: "false", to: "true", source: "admin" },
    ]);
    expect(
      (await ingest({ event: "user:signed_up", userId: `${userId}-3`, userEmail: `${userId}@example.com` })).journeys,
    ).toHaveLength(1);
  });

  it("a repeated unsubscribe is recorded once; the link's change names its source", async () => {
    const userId = unique("twice");
    await ingest({ event: "profile", userId, userEmail: `${userId}@example.com` });
    await unsubscribeByLink(userId);
    await unsubscribeByLink(userId);
    await putPreferences(userId, { unsubscribed: true });
    expect((await preferences(userId)).changes).toMatchObject([
      { field: "unsubscribed", from: "false", to: "true", source: "unsubscribe_link" },
    ]);
  });

  it("resubscribing never lifts a bounce or complaint suppression; suppressed:false does, recorded", async () => {
    const userId = unique("bounced");
    await ingest({ event: "profile", userId, userEmail: `${userId}@example.com` });
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(`${userId}@example.com`, Date.now())
      .run();
    await putPreferences(userId, { unsubscribed: true });
    await putPreferences(userId, { unsubscribed: false });
    expect(await preferences(userId)).toMatchObject({
      unsubscribed: false,
      suppressed: true,
      suppressionReason: "hard_bounce",
    });

    const lifted = (await (await putPreferences(userId, { suppressed: false })).json()) as Prefs;
    expect(lifted).toMatchObject({ suppressed: false });
    expect(lifted.changes[0]).toMatchObject({ field: "suppressed", from: "hard_bounce", to: null, source: "admin" });
  });

  it("an unsubscribe of a contact without an address still holds for that contact", async () => {
    const userId = unique("noaddr");
    await ingest({ event: "profile", userId });
    await unsubscribeByLink(userId);
    expect(await preferences(userId)).toMatchObject({ unsubscribed: true, suppressed: false });
    expect((await ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` })).skipped).toEqual([
      { journey: "activation-welcome", reason: "unsubscribed" },
    ]);
  });
});
