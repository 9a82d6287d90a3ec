import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { BufferedEvent } from "../src/lib/queues";
import { adminAuth, adminGet, adminPost, call, ingestAuth, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";
import { deliver } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const ingest = (json: Record<string, unknown>) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const importCsv = async (data: string) => drainImport(await startImport({ format: "csv", data }));
const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;

/** An imported email-keyed contact claimed by a user id: the person, and their email-key alias. */
async function claimedPerson(prefix: string) {
  const t = unique(prefix).replace("_", "-");
  const alias = `ada@${t}.example.com`;
  await importCsv(`externalId,email,plan\n${alias},${alias},pro\n`);
  const userId = unique("user");
  await ingest({ event: "app:opened", userId, userEmail: alias });
  return { t, userId, alias };
}

describe("people, not ids", () => {
  it("export has one row per person with an aliases column, and the file imports back unchanged", async () => {
    const { t, userId, alias } = await claimedPerson("exp");
    const json = (await (await adminGet(`/v1/admin/contacts/export?format=json&search=${t}`)).json()) as {
      contacts: Array<{ externalId: string; aliases: string[] }>;
    };
    expect(json.contacts).toMatchObject([{ externalId: userId, aliases: [alias] }]);
    const csv = await (await adminGet(`/v1/admin/contacts/export?format=csv&search=${t}`)).text();
    expect(csv).toBe(`externalId,email,aliases,plan\n${userId},${alias},"[""${alias}""]",pro\n`);

    await importCsv(csv);
    const again = (await (await adminGet(`/v1/admin/contacts/${alias}`)).json()) as Record<string, unknown>;
    expect(again).toMatchObject({ externalId: userId, properties: { plan: "pro" } });
    expect(again.properties).not.toHaveProperty("aliases");
  });

  it("erasing a person by an alias erases all their ids; queued work for an alias can't bring them back", async () => {
    const { userId, alias } = await claimedPerson("erase");
    const queued: BufferedEvent = {
      id: crypto.randomUUID(),
      event: "profile:updated",
      userId: alias,
      userEmail: alias,
      properties: { name: "Ada" },
      idempotencyKey: null,
      occurredAt: Date.now(),
      receivedAt: Date.now(),
    };
    const res = await call(`/v1/admin/contacts/${encodeURIComponent(alias)}`, {
      method: "DELETE",
      headers: adminAuth(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ complete: true, removed: { contact: 1, aliases: 1 } });
    expect(await count("SELECT count(*) AS n FROM contact_aliases WHERE alias = ?", alias)).toBe(0);
    // The alias is recorded as erased too (the archive scrub looks for it): asked again, nothing is left.
    const again = await call(`/v1/admin/contacts/${encodeURIComponent(alias)}`, {
      method: "DELETE",
      headers: adminAuth(),
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ complete: true, removed: { contact: 0 } });

    await deliver("hogsend-ingest-events", [{ body: { source: "api", events: [queued] } }]);
    expect((await adminGet(`/v1/admin/contacts/${encodeURIComponent(alias)}`)).status).toBe(404);
    expect((await adminGet(`/v1/admin/contacts/${userId}`)).status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id IN (?, ?)", alias, userId)).toBe(0);
  });

  it("listing and replaying events by an alias finds the person's events", async () => {
    const { userId, alias } = await claimedPerson("replay");
    const listed = (await (await adminGet(`/v1/admin/events?userId=${encodeURIComponent(alias)}`)).json()) as {
      events: Array<{ userId: string }>;
    };
    expect(listed.events).toEqual([expect.objectContaining({ userId })]);
    const replay = await adminPost("/v1/admin/events/replay", { filter: { userId: alias }, dryRun: true });
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { results: unknown[] }).results).toHaveLength(1);
  });

  it("batch enrollment by an alias enrolls the person, once", async () => {
    const { userId, alias } = await claimedPerson("enroll");
    const res = await adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", { users: [{ userId: alias }] });
    expect(res.status).toBe(200);
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", userId)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", alias)).toBe(0);
    const again = (await (await ingest({ event: "user:signed_up", userId, userEmail: alias })).json()) as {
      skipped: unknown[];
    };
    expect(again.skipped).toEqual([{ journey: "activation-welcome", reason: "already_entered_once" }]);
    expect(await count("SELECT count(*) AS n FROM contacts WHERE external_id = ?", alias)).toBe(0);
  });
});
