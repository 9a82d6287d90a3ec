import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminPost, call, ingestAuth, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const ingest = (json: Record<string, unknown>) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;
const contactsOf = (...ids: string[]) =>
  count(`SELECT count(*) AS n FROM contacts WHERE external_id IN (${ids.map(() => "?").join(", ")})`, ...ids);

describe("races end with one contact and nothing lost", () => {
  it("20 concurrent first events of one person, half by the email key and half by the user id", async () => {
    const t = unique("race").replace("_", "-");
    const alias = `ada@${t}.example.com`;
    await drainImport(await startImport({ format: "csv", data: `externalId,email\n${alias},${alias}\n` }));
    const userId = unique("user");
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ingest(
          i % 2
            ? { event: "app:opened", userId: alias, properties: { [`by_alias_${i}`]: true } }
            : { event: "app:opened", userId, userEmail: alias, properties: { [`by_id_${i}`]: true } },
        ),
      ),
    );
    expect(responses.every((res) => res.status === 202)).toBe(true);
    expect(await contactsOf(userId, alias)).toBe(1);
    const person = await env.DB.prepare(
      "SELECT c.external_id, c.properties FROM contacts c JOIN contact_aliases a ON a.contact_id = c.id WHERE a.alias = ?",
    )
      .bind(alias)
      .first<{ external_id: string; properties: string }>();
    expect(person!.external_id).toBe(userId);
    // Every event is stored once, on the person; every property reached the one contact.
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", userId)).toBe(20);
    expect(Object.keys(JSON.parse(person!.properties))).toHaveLength(20);
  });

  it("a merge racing 20 events for the merged contact: every event ends on the survivor", async () => {
    const [from, into] = [unique("from"), unique("into")];
    await ingest({ event: "app:opened", userId: from });
    await ingest({ event: "app:opened", userId: into });
    const [merged, ...events] = await Promise.all([
      adminPost("/v1/admin/contacts/merge", { from, into }),
      ...Array.from({ length: 20 }, (_, i) => ingest({ event: "app:opened", userId: from, properties: { n: i } })),
    ]);
    expect(merged!.status).toBe(200);
    expect(events.every((res) => res.status === 202)).toBe(true);
    expect(await contactsOf(from, into)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM contacts WHERE external_id = ?", into)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", into)).toBe(22);
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", from)).toBe(0);
  });

  it("two merges racing in opposite directions: one wins, the other changes nothing", async () => {
    const [a, b] = [unique("a"), unique("b")];
    await ingest({ event: "app:opened", userId: a });
    await ingest({ event: "app:opened", userId: b });
    const results = await Promise.all([
      adminPost("/v1/admin/contacts/merge", { from: a, into: b }),
      adminPost("/v1/admin/contacts/merge", { from: b, into: a }),
    ]);
    const statuses = results.map((res) => res.status).sort();
    expect(statuses[0]).toBe(200);
    expect([404, 409, 422]).toContain(statuses[1]);
    expect(await contactsOf(a, b)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id IN (?, ?)", a, b)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM contact_merges WHERE from_external_id IN (?, ?)", a, b)).toBe(1);
  });
});
