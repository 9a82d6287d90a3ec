import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { deliverEmail } from "../src/services/emails";
import { hashedAddress } from "../src/services/suppressions";
import { type BackfillBody, backfill, drainBackfill, importCsv } from "./backfill-helpers";
import { adminAuth, adminGet, adminPost, call, ingestAuth, testHash, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type IngestBody = {
  journeys: Array<{ journey: string; enrollmentId: string }>;
  skipped: Array<{ journey: string; reason: string }>;
};
type Prefs = {
  unsubscribed: boolean;
  suppressed: boolean;
  suppressionReason: string | null;
  changes: Array<{ field: string; from: string | null; to: string | null }>;
};

const ingest = (json: Record<string, unknown>) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const erase = (id: string) => call(`/v1/admin/contacts/${id}`, { method: "DELETE", headers: adminAuth() });
const preferences = async (id: string) =>
  (await (await adminGet(`/v1/admin/contacts/${id}/preferences`)).json()) as Prefs;
const putPreferences = (id: string, json: Record<string, unknown>) =>
  call(`/v1/admin/contacts/${id}/preferences`, { method: "PUT", headers: adminAuth(), json });
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;
const suppressionRows = async (email: string) =>
  count("SELECT count(*) AS n FROM suppressions WHERE email IN (?, ?)", email, await hashedAddress(testHash, email));

/** A person with this address, erased: the address is left suppressed only as a hash. */
async function erasedAddress(options: { unsubscribeFirst?: boolean } = {}) {
  const userId = unique("gone");
  const email = `${userId}@example.com`;
  expect((await ingest({ event: "profile", userId, userEmail: email })).status).toBe(202);
  if (options.unsubscribeFirst) expect((await putPreferences(userId, { unsubscribed: true })).status).toBe(200);
  expect((await erase(userId)).status).toBe(200);
  expect(
    await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", await hashedAddress(testHash, email)),
  ).toBe(1);
  return email;
}

async function queuedEmail(userId: string, to: string) {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, to_address, template_key, props, subject, status, created_at, updated_at) VALUES (?, ?, ?, 'welcome', '{}', 'Hi', 'queued', ?, ?)",
  )
    .bind(id, userId, to, Date.now(), Date.now())
    .run();
  return id;
}

describe("an erased address that comes back", () => {
  it("is refused at entry: ingest answers skipped `suppressed`, in one D1 round trip, and nothing is sent", async () => {
    const email = await erasedAddress();
    const newId = unique("back");
    const res = await ingest({ event: "user:signed_up", userId: newId, userEmail: email.toUpperCase() });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-d1-round-trips")).toBe("1");
    const body = (await res.json()) as IngestBody;
    expect(body.journeys).toEqual([]);
    expect(body.skipped).toEqual([{ journey: "activation-welcome", reason: "suppressed" }]);
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", newId)).toBe(0);
    expect(await count("SELECT count(*) AS n FROM emails WHERE user_id = ?", newId)).toBe(0);
  });

  it("is refused with the reason it carried: an unsubscribed address stays `unsubscribed`", async () => {
    const email = await erasedAddress({ unsubscribeFirst: true });
    const body = (await (
      await ingest({ event: "user:signed_up", userId: unique("back"), userEmail: email })
    ).json()) as IngestBody;
    expect(body.skipped).toEqual([{ journey: "activation-welcome", reason: "unsubscribed" }]);
  });

  it("is refused by batch enrollment given the address", async () => {
    const email = await erasedAddress();
    const newId = unique("back-batch");
    const res = await adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", {
      users: [{ userId: newId, userEmail: email }],
    });
    expect(await res.json()).toMatchObject({
      enrolled: 0,
      results: [{ userId: newId, enrolled: false, reason: "suppressed" }],
    });
  });

  it("is refused by a backfill over contacts that have it (imported under a new id)", async () => {
    const email = await erasedAddress();
    const importJobId = await importCsv(`externalId,email\n${unique("back-import")},${email}\n`);
    const res = await backfill("activation-welcome", { filter: { importJobId } });
    const done = await drainBackfill(((await res.json()) as BackfillBody).id);
    expect(done).toMatchObject({ matched: 1, enrolled: 0, skipped: { suppressed: 1 } });
  });

  it("shows as suppressed on the new contact, and an admin can lift it: the hashed row goes, mail goes out", async () => {
    const email = await erasedAddress();
    const newId = unique("back-lift");
    expect((await ingest({ event: "profile", userId: newId, userEmail: email })).status).toBe(202);
    expect(await preferences(newId)).toMatchObject({ suppressed: true, suppressionReason: "erased" });

    const res = await putPreferences(newId, { suppressed: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ suppressed: false, suppressionReason: null });
    expect(await suppressionRows(email)).toBe(0);
    expect((await preferences(newId)).changes).toMatchObject([{ field: "suppressed", from: "erased", to: null }]);

    const delivered = await deliverEmail(buildDeps(env).delivery, await queuedEmail(newId, email));
    expect(delivered.status).not.toBe("suppressed");
    expect(delivered.error ?? "").not.toContain("suppressed");
  });

  it("resubscribing lifts a hashed `unsubscribed` suppression, never a hashed bounce", async () => {
    const unsubscribed = await erasedAddress({ unsubscribeFirst: true });
    const back = unique("back-resub");
    expect((await ingest({ event: "profile", userId: back, userEmail: unsubscribed })).status).toBe(202);
    expect(await preferences(back)).toMatchObject({ suppressed: true, suppressionReason: "unsubscribed" });
    expect((await putPreferences(back, { unsubscribed: false })).status).toBe(200);
    expect(await preferences(back)).toMatchObject({ unsubscribed: false, suppressed: false });
    expect(await suppressionRows(unsubscribed)).toBe(0);

    const bounced = `${unique("bounced")}@example.com`;
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(await hashedAddress(testHash, bounced), Date.now())
      .run();
    const other = unique("back-bounced");
    expect((await ingest({ event: "profile", userId: other, userEmail: bounced })).status).toBe(202);
    expect((await putPreferences(other, { unsubscribed: false })).status).toBe(200);
    expect(await preferences(other)).toMatchObject({ suppressed: true, suppressionReason: "hard_bounce" });
  });
});
