import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb, runBatch } from "../src/db/client";
import { isContactCapsRefusal } from "../src/services/contact-properties";
import { contactUpsertStatements } from "../src/services/contacts";
import { importUpsertStatements } from "../src/services/imports/upsert";
import { adminGet, call, expectErrorShape, ingestAuth, ndjsonText, unique, waitForProcessedEvent } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";

const KB = 1024;
const ingest = (json: unknown, headers: Record<string, string> = {}) =>
  call("/v1/ingest", { method: "POST", headers: { ...ingestAuth(), ...headers }, json });
const batch = (events: unknown[]) =>
  call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: { events } });

type Contact = { email: string | null; properties: Record<string, unknown>; lastSeenAt: string };
const contact = async (externalId: string) =>
  (await (await adminGet(`/v1/admin/contacts/${externalId}`)).json()) as Contact;
const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** One property of about `kb` KB under `key`. */
const big = (key: string, kb = 60) => ({ [key]: "x".repeat(kb * KB) });
/** `n` small keys, `from` on. */
const keys = (n: number, from = 0) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${from + i}`, i]));

describe("what one contact's properties may hold (256 KB, 1000 keys)", () => {
  it("stores an event that would pass 256 KB, leaves the properties alone, and says so", async () => {
    const userId = unique("capb");
    for (let i = 0; i < 4; i++) {
      const res = await ingest({ event: "grow", userId, properties: big(`p${i}`) });
      expect(await res.json()).not.toHaveProperty("contactUpdate");
    }
    const before = await contact(userId);
    expect(bytesOf(before.properties)).toBeGreaterThan(240 * KB);

    const refused = await ingest({
      event: "grow",
      userId,
      userEmail: `${userId}@example.com`,
      properties: big("p4"),
      timestamp: "2030-01-01T00:00:00Z",
    });
    expect(refused.status).toBe(202);
    expect(refused.headers.get("x-d1-round-trips")).toBe("1");
    const body = (await refused.json()) as { stored: boolean; eventId: string; contactUpdate?: string };
    expect(body).toMatchObject({ stored: true, contactUpdate: "skipped_properties_limit" });
    const stored = await env.DB.prepare("SELECT processed_at FROM events WHERE id = ?")
      .bind(body.eventId)
      .first<{ processed_at: number | null }>();
    expect(stored?.processed_at).not.toBeNull();
    const after = await contact(userId);
    expect(Object.keys(after.properties).sort()).toEqual(["p0", "p1", "p2", "p3"]);
    // The rest of the event applied: its address and its time.
    expect(after.email).toBe(`${userId}@example.com`);
    expect(after.lastSeenAt).toBe("2030-01-01T00:00:00.000Z");

    // A write that replaces or removes keys still merges, and makes room again.
    const shrink = await ingest({ event: "shrink", userId, properties: { p0: null, p1: "small" } });
    expect(await shrink.json()).not.toHaveProperty("contactUpdate");
    expect(Object.keys((await contact(userId)).properties).sort()).toEqual(["p1", "p2", "p3"]);
    expect(await (await ingest({ event: "grow", userId, properties: big("p4") })).json()).not.toHaveProperty(
      "contactUpdate",
    );
  });

  it("caps top-level keys at 1000 per contact, and per event", async () => {
    const userId = unique("capk");
    await ingest({ event: "a", userId, properties: keys(600) });
    const over = await ingest({ event: "b", userId, properties: keys(401, 600) });
    expect(await over.json()).toMatchObject({ stored: true, contactUpdate: "skipped_properties_limit" });
    expect(Object.keys((await contact(userId)).properties)).toHaveLength(600);
    const fits = await ingest({ event: "b", userId, properties: keys(400, 600) });
    expect(await fits.json()).not.toHaveProperty("contactUpdate");
    expect(Object.keys((await contact(userId)).properties)).toHaveLength(1000);
    // Overwriting keys it has is still a merge within the cap.
    expect(await (await ingest({ event: "c", userId, properties: { k0: "again" } })).json()).not.toHaveProperty(
      "contactUpdate",
    );
    expect((await contact(userId)).properties.k0).toBe("again");

    const tooMany = await expectErrorShape(
      await ingest({ event: "d", userId: unique("capk"), properties: keys(1001) }),
      400,
      "VALIDATION_ERROR",
    );
    expect(tooMany.error).toContain("properties: more than 1000 top-level keys");
  });

  it("answers per item in a batch, in order, without failing the batch or its one round trip", async () => {
    const full = unique("capfull");
    const other = unique("capother");
    await batch([0, 1, 2, 3].map((i) => ({ event: "grow", userId: full, properties: big(`p${i}`) })));
    const events = [
      { event: "grow", userId: full, properties: { p0: null } }, // makes room for…
      { event: "grow", userId: full, properties: big("p4") }, // …this one, in the next round
      { event: "grow", userId: full, properties: big("p5") }, // over again
      { event: "grow", userId: other, properties: big("q") },
      { event: "plain", userId: full },
      ...Array.from({ length: 495 }, (_, i) => ({ event: "many", userId: `${other}_${i}`, properties: { i } })),
    ];
    const res = await batch(events);
    expect(res.headers.get("x-d1-round-trips")).toBe("1");
    const { results } = (await res.json()) as { results: Array<{ stored: boolean; contactUpdate?: string }> };
    expect(results).toHaveLength(500);
    expect(results.every((r) => r.stored)).toBe(true);
    expect(results.map((r, i) => (r.contactUpdate ? i : -1)).filter((i) => i >= 0)).toEqual([2]);
    expect(Object.keys((await contact(full)).properties).sort()).toEqual(["p1", "p2", "p3", "p4"]);
    expect(Object.keys((await contact(other)).properties)).toEqual(["q"]);
    expect((await contact(`${other}_494`)).properties).toEqual({ i: 494 });
  });

  it("doesn't fail a queued event over the cap: it is stored and processed, the contact unchanged", async () => {
    const userId = unique("capq");
    await batch([0, 1, 2, 3].map((i) => ({ event: "grow", userId, properties: big(`p${i}`) })));
    const key = unique("capq-key");
    const res = await ingest(
      { event: "grow", userId, properties: big("p4"), idempotencyKey: key },
      { prefer: "respond-async" },
    );
    expect(res.status).toBe(202);
    await waitForProcessedEvent(key);
    expect(Object.keys((await contact(userId)).properties).sort()).toEqual(["p0", "p1", "p2", "p3"]);
  });

  it("fails the import row whose properties its contact can't take, and imports the others", async () => {
    const t = unique("capimp");
    const db = createDb(env.DB);
    await runBatch(
      db,
      contactUpsertStatements(db, [
        { externalId: `${t}_full`, properties: { ...big("a"), ...big("b"), ...big("c"), ...big("e") } },
        { externalId: `${t}_keys`, properties: keys(999) },
      ]),
    );
    const lines = [
      { externalId: `${t}_new`, properties: big("p") },
      { externalId: `${t}_full`, properties: big("d") },
      { externalId: `${t}_full2`, properties: { small: 1 } },
      { externalId: `${t}_keys`, properties: { k0: "x", extra: 1 } }, // 1000 keys: fits
      { externalId: `${t}_full`.replace("full", "keys2"), properties: { z: 1 } },
    ];
    await runBatch(db, contactUpsertStatements(db, [{ externalId: `${t}_keys2`, properties: keys(1000) }]));
    const data = lines.map((l) => JSON.stringify(l)).join("\n");
    const job = await drainImport(await startImport({ format: "ndjson", data }));
    expect(job).toMatchObject({ status: "completed", totalRows: 5, processedRows: 3, failedRows: 2 });
    const error = "properties: the contact would hold more than 256 KB or 1000 keys";
    expect(job.errors).toEqual([
      { row: 2, error },
      { row: 5, error },
    ]);
    expect(Object.keys((await contact(`${t}_full`)).properties).sort()).toEqual(["a", "b", "c", "e"]);
    expect(Object.keys((await contact(`${t}_keys`)).properties)).toHaveLength(1000);
    expect(Object.keys((await contact(`${t}_keys2`)).properties)).toHaveLength(1000);
    expect((await contact(`${t}_full2`)).properties).toEqual({ small: 1 });
  });
});

describe("the merge itself (SQL)", () => {
  it("leaves a full contact's properties alone whoever writes (enrollment: skipped; an import chunk: refused whole)", async () => {
    const t = unique("capsql");
    const db = createDb(env.DB);
    const full = { ...big("a"), ...big("b"), ...big("c"), ...big("d") };
    await runBatch(db, contactUpsertStatements(db, [{ externalId: t, properties: full }]));
    await runBatch(
      db,
      contactUpsertStatements(db, [{ externalId: t, email: `${t}@example.com`, properties: big("e") }]),
    );
    const after = await contact(t);
    expect(Object.keys(after.properties).sort()).toEqual(["a", "b", "c", "d"]);
    expect(after.email).toBe(`${t}@example.com`);
    const rows = [{ row: 1, data: "{}", contact: { externalId: t, properties: big("f") } }];
    const other = unique("capsql_other");
    const both = [{ row: 0, data: "{}", contact: { externalId: other, properties: { x: 1 } } }, ...rows];
    const refused = await runBatch(db, importUpsertStatements(db, "job-capsql", both, new Date())).catch((e) => e);
    expect(isContactCapsRefusal(refused)).toBe(true);
    expect(Object.keys((await contact(t)).properties).sort()).toEqual(["a", "b", "c", "d"]);
    expect(await env.DB.prepare("SELECT 1 FROM contacts WHERE external_id = ?").bind(other).first()).toBeNull();
  });
});

describe("a contact over the caps from before them", () => {
  it("may shrink, and grows no further", async () => {
    const userId = unique("capold");
    const db = createDb(env.DB);
    await runBatch(db, contactUpsertStatements(db, [{ externalId: userId }]));
    const over = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`p${i}`, "x".repeat(60 * KB)]));
    await env.DB.prepare("UPDATE contacts SET properties = ? WHERE external_id = ?")
      .bind(JSON.stringify(over), userId)
      .run();
    const grow = await ingest({ event: "grow", userId, properties: { more: 1 } });
    expect(await grow.json()).toMatchObject({ contactUpdate: "skipped_properties_limit" });
    // Still over 256 KB after it, but smaller: allowed.
    const shrink = await ingest({ event: "shrink", userId, properties: { p0: null } });
    expect(await shrink.json()).not.toHaveProperty("contactUpdate");
    expect(Object.keys((await contact(userId)).properties).sort()).toEqual(["p1", "p2", "p3", "p4", "p5"]);
  });
});

describe("CSV export columns", () => {
  it("gives at most 200 property columns, the most common keys; the rest of a row is JSON in otherProperties", async () => {
    const t = unique("capexp");
    const db = createDb(env.DB);
    await runBatch(
      db,
      contactUpsertStatements(db, [
        { externalId: `${t}_wide`, email: "wide@example.com", properties: { plan: "pro", ...keys(300) } },
        { externalId: `${t}_narrow`, properties: { plan: "free", k299: "last" } },
      ]),
    );
    const res = await adminGet(`/v1/admin/contacts/export?format=csv&search=${t}`);
    expect(res.status).toBe(200);
    const [header, ...rows] = (await res.text()).trim().split(/\r?\n/);
    const columns = header!.split(",");
    expect(columns).toHaveLength(3 + 200 + 1);
    expect(columns.slice(0, 3)).toEqual(["externalId", "email", "aliases"]);
    expect(columns.at(-1)).toBe("otherProperties");
    // Keys both contacts have win a column; the rest go by name.
    expect(columns).toEqual(expect.arrayContaining(["plan", "k299", "k0", "k1", "k10", "k100"]));
    expect(columns).not.toContain("k99");
    const byId = new Map(rows.map((row) => [row.split(",")[0], row]));
    const otherCell = (row: string) => {
      const at = row.indexOf(',"{');
      return at === -1 ? null : (JSON.parse(row.slice(at + 2, -1).replaceAll('""', '"')) as Record<string, unknown>);
    };
    const others = otherCell(byId.get(`${t}_wide`)!)!;
    expect(Object.keys(others)).toHaveLength(101);
    expect(others.k99).toBe(99);
    expect(byId.get(`${t}_narrow`)!.endsWith(",")).toBe(true); // nothing left over: an empty last cell
    const ndjson = await ndjsonText(await adminGet(`/v1/admin/contacts/export?format=ndjson&search=${t}`));
    const wide = ndjson
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { externalId: string; properties: Record<string, unknown> })
      .find((c) => c.externalId === `${t}_wide`)!;
    expect(Object.keys(wide.properties)).toHaveLength(301);
  });
});
