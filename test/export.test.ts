import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb, runBatch } from "../src/db/client";
import { contactUpsertStatements } from "../src/services/contacts";
import { adminGet, expectErrorShape, ndjsonText, unique } from "./helpers";
import { contactsTagged, drainImport, startImport } from "./imports-helpers";

type Contact = { externalId: string; email: string | null; properties: Record<string, unknown> };

async function seed(rows: Array<{ externalId: string; email?: string; properties?: Record<string, unknown> }>) {
  const db = createDb(env.DB);
  await runBatch(db, contactUpsertStatements(db, rows));
}

const exportOf = (query: string) => adminGet(`/v1/admin/contacts/export?${query}`);

describe("GET /v1/admin/contacts/export", () => {
  it("defaults to JSON with the contacts and a null cursor, filtered by search", async () => {
    const t = unique("exj");
    await seed([
      { externalId: `${t}_1`, email: "one@example.com", properties: { plan: "pro" } },
      { externalId: `${t}_2` },
      { externalId: unique("other") },
    ]);
    const res = await exportOf(`search=${t}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.headers.get("x-next-cursor")).toBeNull();
    const body = (await res.json()) as {
      contacts: Array<Contact & { id: string; createdAt: string }>;
      nextCursor: string | null;
    };
    expect(body.nextCursor).toBeNull();
    expect(body.contacts.map((c) => [c.externalId, c.email, c.properties])).toEqual([
      [`${t}_1`, "one@example.com", { plan: "pro" }],
      [`${t}_2`, null, {}],
    ]);
    expect(body.contacts[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("matches % and _ in search literally", async () => {
    const t = unique("exs");
    await seed([{ externalId: `${t}_50%_off` }, { externalId: `${t}_50x_off` }, { externalId: `${t}x50%_off` }]);
    const ids = async (search: string) =>
      (
        (await (await exportOf(`format=json&search=${encodeURIComponent(search)}`)).json()) as { contacts: Contact[] }
      ).contacts.map((c) => c.externalId);
    expect(await ids(`${t}_50%`)).toEqual([`${t}_50%_off`]);
    expect(await ids(`${t}_50`)).toEqual([`${t}_50%_off`, `${t}_50x_off`]);
  });

  it("streams CSV as an attachment with a column per property key, JSON for non-strings, formulas neutralised", async () => {
    const t = unique("exc");
    await seed([
      { externalId: `${t}_1`, email: "a@example.com", properties: { plan: "pro", seats: 3, meta: { tier: 1 } } },
      { externalId: `${t}_2`, properties: { company: '=HYPERLINK("http://evil")', note: "-5", plain: "@home" } },
    ]);
    const res = await exportOf(`format=csv&search=${t}`);
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="contacts.csv"');
    expect(await res.text()).toBe(
      "externalId,email,aliases,company,meta,note,plain,plan,seats\n" +
        `${t}_1,a@example.com,,,"{""tier"":1}",,,pro,3\n` +
        `${t}_2,,,"'=HYPERLINK(""http://evil"")",,'-5,'@home,,\n`,
    );
  });

  it("round-trips: an exported CSV imports back to the same contacts", async () => {
    const t = unique("rt");
    const originals: Contact[] = [
      { externalId: `${t}_1`, email: "one@example.com", properties: { plan: "pro", company: "Acme, Inc." } },
      { externalId: `${t}_2`, email: null, properties: { note: 'says "hi"\nand leaves', formula: "=1+1" } },
      {
        externalId: `${t}_3`,
        email: "three@example.com",
        properties: { formula: "'=already quoted", neg: "-5", city: "Zürich" },
      },
      { externalId: `${t}_4`, email: null, properties: {} },
    ];
    await seed(originals.map((c) => ({ ...c, email: c.email ?? undefined })));
    const csv = await (await exportOf(`format=csv&search=${t}`)).text();

    await env.DB.prepare("DELETE FROM contacts WHERE external_id LIKE ?").bind(`${t}%`).run();
    expect(await contactsTagged(t)).toEqual([]);
    const job = await drainImport(await startImport({ format: "csv", data: csv }));
    expect(job).toMatchObject({ status: "completed", processedRows: 4, failedRows: 0 });
    expect(await contactsTagged(t)).toEqual(originals);
  });

  it("round-trips typed values through NDJSON", async () => {
    const t = unique("rtn");
    await seed([
      { externalId: `${t}_1`, email: "n@example.com", properties: { seats: 3, beta: true, tags: ["a", "b"] } },
    ]);
    const ndjson = await ndjsonText(await exportOf(`format=ndjson&search=${t}`));
    expect(ndjson.trim().split("\n")).toHaveLength(1);
    await env.DB.prepare("DELETE FROM contacts WHERE external_id LIKE ?").bind(`${t}%`).run();
    await drainImport(await startImport({ format: "ndjson", data: ndjson }));
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: "n@example.com", properties: { seats: 3, beta: true, tags: ["a", "b"] } },
    ]);
  });

  it("walks all contacts with the cursor, in header and JSON body", async () => {
    const t = unique("excur");
    await seed(Array.from({ length: 5 }, (_, i) => ({ externalId: `${t}_${i}` })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await exportOf(`search=${t}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      const body = (await res.json()) as { contacts: Contact[]; nextCursor: string | null };
      expect(res.headers.get("x-next-cursor")).toBe(body.nextCursor);
      seen.push(...body.contacts.map((c) => c.externalId));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${t}_${i}`));

    const nd = await exportOf(`format=ndjson&search=${t}&limit=4`);
    expect(nd.headers.get("x-next-cursor")).not.toBeNull();
    expect(
      (await ndjsonText(nd))
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as Contact).externalId),
    ).toEqual(seen.slice(0, 4));
  });

  it("streams more rows than one page, in order, up to the limit", async () => {
    const t = unique("exbig");
    const rows = Array.from({ length: 1203 }, (_, i) => ({
      externalId: `${t}_${String(i).padStart(5, "0")}`,
      properties: { i: String(i) },
    }));
    await seed(rows);
    const csv = await (await exportOf(`format=csv&search=${t}&limit=1201`)).text();
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("externalId,email,aliases,i");
    expect(lines).toHaveLength(1202);
    expect(lines[1201]).toBe(`${t}_01200,,,1200`);
  });

  it("rejects a limit over 10000 and an unknown format", async () => {
    expect((await expectErrorShape(await exportOf("limit=10001"), 400, "VALIDATION_ERROR")).error).toContain("limit");
    expect((await expectErrorShape(await exportOf("format=xml"), 400, "VALIDATION_ERROR")).error).toContain("format");
  });
});
