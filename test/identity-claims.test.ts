import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, call, ingestAuth, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Detail = {
  id: string;
  externalId: string;
  email: string | null;
  properties: Record<string, unknown>;
  aliases: Array<{ alias: string; kind: string }>;
};
const detail = async (id: string) => {
  const res = await adminGet(`/v1/admin/contacts/${encodeURIComponent(id)}`);
  return { status: res.status, body: (await res.json()) as Detail };
};
const ingest = (json: Record<string, unknown>) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const importCsv = async (data: string, options: Record<string, unknown> = {}) =>
  drainImport(await startImport({ format: "csv", data, ...options }));
const contactsMatching = async (term: string) =>
  (
    (await (await adminGet(`/v1/admin/contacts?search=${encodeURIComponent(term)}`)).json()) as {
      contacts: Detail[];
    }
  ).contacts;
const count = async (table: string, userId: string) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE user_id = ?`).bind(userId).first<{ n: number }>())!.n;

/** An email-keyed audience contact, as `?preset=mailchimp` leaves it. */
async function audienceContact(t: string) {
  const address = `ada@${t}.example.com`;
  await importCsv(`externalId,email,firstName\n${address},Ada@${t}.example.com,Ada\n`);
  return address;
}

describe("claiming an email-keyed contact", () => {
  it("an event with a new user id and the address claims the imported contact, in one round trip", async () => {
    const t = unique("claim").replace("_", "-");
    const address = await audienceContact(t);
    const userId = unique("user");
    const res = await ingest({ event: "user:signed_up", userId, userEmail: `ADA@${t}.example.com` });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-d1-round-trips")).toBe("1");

    const { body } = await detail(userId);
    expect(body).toMatchObject({
      externalId: userId,
      email: `Ada@${t}.example.com`, // the address keeps the spelling it had: it is the same address
      properties: { firstName: "Ada" },
      aliases: [{ alias: address, kind: "email_key" }],
    });
    expect(await contactsMatching(t)).toHaveLength(1);
    // The alias and the normalized address find the same person.
    expect((await detail(address)).body.id).toBe(body.id);
    expect((await detail(`ADA@${t}.EXAMPLE.COM`)).body.id).toBe(body.id);
  });

  it("the claimed contact keeps its enrollments and emails, and an event for the alias lands on the person", async () => {
    const t = unique("keep").replace("_", "-");
    const address = await audienceContact(t);
    const now = Date.now();
    await env.DB.prepare(
      `INSERT INTO emails (id, user_id, to_address, status, created_at, updated_at) VALUES (?, ?, ?, 'sent', ?, ?)`,
    )
      .bind(crypto.randomUUID(), address, address, now, now)
      .run();
    const userId = unique("user");
    await ingest({ event: "app:opened", userId, userEmail: address });
    expect(await count("emails", userId)).toBe(1);
    expect(await count("emails", address)).toBe(0);

    const late = await ingest({ event: "newsletter:clicked", userId: address, properties: { clicked: true } });
    const { eventId } = (await late.json()) as { eventId: string };
    const stored = (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as { userId: string };
    expect(stored.userId).toBe(userId);
    expect((await detail(userId)).body.properties).toMatchObject({ firstName: "Ada", clicked: true });
    expect(await contactsMatching(t)).toHaveLength(1);
  });

  it("never claims a contact that already has a user id, and a PostHog event never claims", async () => {
    const t = unique("noclaim").replace("_", "-");
    const owner = unique("owner");
    await ingest({ event: "app:opened", userId: owner, userEmail: `bob@${t}.example.com` });
    const other = unique("other");
    await ingest({ event: "app:opened", userId: other, userEmail: `bob@${t}.example.com` });
    expect((await detail(owner)).body.externalId).toBe(owner);
    expect((await detail(other)).body.externalId).toBe(other);

    const address = await audienceContact(t);
    const res = await call("/v1/webhooks/posthog", {
      method: "POST",
      headers: { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET! },
      json: {
        event: { uuid: crypto.randomUUID(), event: "$pageview", distinct_id: unique("ph") },
        person: { properties: { email: address } },
      },
    });
    expect(res.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await detail(address)).body.externalId).toBe(address);
  });

  it("an import row with a user id and the address claims the email-keyed contact", async () => {
    const t = unique("impclaim").replace("_", "-");
    const address = await audienceContact(t);
    const userId = unique("user");
    const job = await importCsv(`externalId,email,plan\n${userId},${address.toUpperCase()},pro\n`);
    expect(job).toMatchObject({ status: "completed", processedRows: 1 });
    expect((await detail(userId)).body).toMatchObject({
      externalId: userId,
      properties: { firstName: "Ada", plan: "pro" },
      aliases: [{ alias: address, kind: "email_key" }],
    });
    expect(await contactsMatching(t)).toHaveLength(1);

    // A later import row keyed by the old email key updates the same person.
    await importCsv(`externalId,email,company\n${address},${address},Analytical Engines\n`);
    expect((await detail(userId)).body.properties).toMatchObject({ company: "Analytical Engines", plan: "pro" });
    expect(await contactsMatching(t)).toHaveLength(1);
  });
});
