import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, unique } from "./helpers";
import { contactsTagged, drainImport, startImport } from "./imports-helpers";

const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;
const errorsCsv = async (jobId: string) => (await adminGet(`/v1/admin/contacts/import/${jobId}/errors.csv`)).text();

describe("types", () => {
  it("converts typed columns and fails a row whose cell doesn't convert, naming the column", async () => {
    const t = unique("types");
    const data = [
      "externalId,seats,vip,signedUpAt,meta,plan",
      `${t}_1,5,true,2024-01-05T10:00:00+02:00,"{""a"":1}",pro`,
      `${t}_2,five,yes,2024-01-05,[],free`,
      `${t}_3,2,maybe,,,`,
      `${t}_4,3,no,05/01/2024,,`,
      `${t}_5,4,0,1704448800,{bad,`,
      `${t}_6,4,0,2024-02-30 10:00,,`,
    ].join("\n");
    const types = { seats: "number", vip: "boolean", signedUpAt: "date", meta: "json" };
    const job = await drainImport(await startImport({ format: "csv", data, types }));
    expect(job).toMatchObject({ status: "completed", totalRows: 6, processedRows: 1, failedRows: 5, types });
    expect(job.errors).toEqual([
      { row: 2, error: "seats: not a number" },
      { row: 3, error: "vip: not a boolean" },
      { row: 4, error: "signedUpAt: not a date" },
      { row: 5, error: "meta: not JSON" },
      { row: 6, error: "signedUpAt: not a date" },
    ]);
    expect(await contactsTagged(t)).toEqual([
      {
        externalId: `${t}_1`,
        email: null,
        properties: { seats: 5, vip: true, signedUpAt: "2024-01-05T08:00:00.000Z", meta: { a: 1 }, plan: "pro" },
      },
    ]);
    expect(await errorsCsv(job.id)).toContain(`${t}_2,five,yes,2024-01-05,[],free,2,seats: not a number`);
  });
});

describe("mapping", () => {
  it("maps CSV columns case-insensitively, drops null-mapped ones, keeps unknown ones as properties", async () => {
    const t = unique("map");
    const data = `User ID,E-Mail,Seats,Internal\n${t}_1,a@example.com,3,x\n${t}_2,,,y\n`;
    const mapping = { "user id": "externalId", " e-mail ": "email", internal: null, seats: "seatCount" };
    const job = await drainImport(await startImport({ format: "csv", data, mapping, types: { seatCount: "number" } }));
    const stored = { "user id": "externalId", "e-mail": "email", internal: null, seats: "seatCount" };
    expect(job).toMatchObject({ status: "completed", processedRows: 2, failedRows: 0, mapping: stored });
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: "a@example.com", properties: { seatCount: 3 } },
      { externalId: `${t}_2`, email: null, properties: {} },
    ]);
  });

  it("fails the job, writing nothing, when no column or two columns map to externalId, or a mapping names a missing column", async () => {
    const t = unique("mapfail");
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ mapping: { Email: "email" } }, "No column maps to externalId"],
      [{ mapping: { id: "externalId", Email: "externalId" } }, 'Several columns map to externalId: "id", "Email"'],
      [{ mapping: { id: "externalId", Emial: "email" } }, `mapping names a column the file doesn't have: "Emial"`],
      [
        { mapping: { id: "externalId" }, types: { seat: "number" } },
        `types names a column or property the file doesn't have: "seat"`,
      ],
    ];
    for (const [options, error] of cases) {
      const job = await drainImport(
        await startImport({ format: "csv", data: `id,Email\n${t}_1,a@example.com\n`, ...options }),
      );
      expect(job.status).toBe("failed");
      expect(job.error).toContain(error);
    }
    expect(await contactsTagged(t)).toEqual([]);
  });

  it("maps NDJSON top-level keys and properties.* keys, with types", async () => {
    const t = unique("ndjson");
    const lines = [
      {
        uid: `${t}_1`,
        mail: "b@example.com",
        unsubscribed: false,
        properties: { seats: "4", plan: "pro" },
        tier: "gold",
      },
      { uid: `${t}_2`, properties: { seats: "many" } },
      { uid: `${t}_3`, unsubscribed: 1_704_448_800 },
      { uid: `${t}_4`, properties: "pro" },
    ];
    const data = lines.map((l) => JSON.stringify(l)).join("\n");
    const mapping = { uid: "externalId", mail: "email", "properties.seats": "seatCount" };
    const jobId = await startImport({ format: "ndjson", data, mapping, types: { seatCount: "number" } });
    const job = await drainImport(jobId);
    expect(job).toMatchObject({ status: "completed", processedRows: 2, failedRows: 2 });
    expect(job.errors).toEqual([
      { row: 2, error: "properties.seats: not a number" },
      { row: 4, error: "properties must be an object" },
    ]);
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: "b@example.com", properties: { seatCount: 4, plan: "pro", tier: "gold" } },
      { externalId: `${t}_3`, email: null, properties: {} },
    ]);
    // A key named `unsubscribed` is the opt-out once mapping is on: Unix seconds are when.
    const unsubscribedAt = (id: string) =>
      count("SELECT coalesce(unsubscribed_at, 0) AS n FROM contacts WHERE external_id = ?", id);
    expect(await unsubscribedAt(`${t}_1`)).toBe(0);
    expect(await unsubscribedAt(`${t}_3`)).toBe(1_704_448_800_000);
  });

  it("fails only the row whose date is out of range (1e300), not the import", async () => {
    const t = unique("baddate");
    const lines = [
      { id: `${t}_1`, signedUp: 1_704_448_800 },
      { id: `${t}_2`, signedUp: 1e300 },
      { id: `${t}_3`, signedUp: -1e300 },
      { id: `${t}_4`, unsub: 1e300 },
      { id: `${t}_5`, signedUp: "2024-01-05" },
    ];
    const data = lines.map((l) => JSON.stringify(l)).join("\n");
    const options = { mapping: { id: "externalId", unsub: "unsubscribed" }, types: { signedUp: "date" } };
    const job = await drainImport(await startImport({ format: "ndjson", data, ...options }));
    expect(job).toMatchObject({ status: "completed", totalRows: 5, processedRows: 2, failedRows: 3 });
    expect(job.errors).toEqual([
      { row: 2, error: "signedUp: not a date" },
      { row: 3, error: "signedUp: not a date" },
      { row: 4, error: "unsub: not a boolean or a date" },
    ]);
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: null, properties: { signedUp: "2024-01-05T10:00:00.000Z" } },
      { externalId: `${t}_5`, email: null, properties: { signedUp: "2024-01-05T00:00:00.000Z" } },
    ]);
  });

  it("maps the objects of a JSON array the same way", async () => {
    const t = unique("jsonarr");
    const data = JSON.stringify([{ ID: `${t}_1`, Plan: "pro", Seats: "2" }]);
    const options = { preset: "customerio", types: { Seats: "number" } };
    const job = await drainImport(await startImport({ format: "json", data, ...options }));
    expect(job).toMatchObject({ status: "completed", processedRows: 1, preset: "customerio" });
    expect(await contactsTagged(t)).toEqual([
      { externalId: `${t}_1`, email: null, properties: { Plan: "pro", Seats: 2 } },
    ]);
  });

  it("never lifts an opt-out: unsubscribed=false and suppressed=false leave existing ones alone", async () => {
    const t = unique("nolift");
    const address = `${t.replace("_", "-")}@example.com`;
    const before = await drainImport(
      await startImport({
        format: "csv",
        data: `id,email,unsub,bounced\n${t},${address},2024-01-01 00:00,yes\n`,
        mapping: { id: "externalId", unsub: "unsubscribed", bounced: "suppressed" },
      }),
    );
    expect(before.processedRows).toBe(1);
    const after = await drainImport(
      await startImport({
        format: "csv",
        data: `id,email,unsub,bounced\n${t},${address},false,no\n`,
        mapping: { id: "externalId", unsub: "unsubscribed", bounced: "suppressed" },
      }),
    );
    expect(after.processedRows).toBe(1);
    const row = await env.DB.prepare("SELECT unsubscribed_at FROM contacts WHERE external_id = ?")
      .bind(t)
      .first<{ unsubscribed_at: number }>();
    expect(row?.unsubscribed_at).toBe(Date.parse("2024-01-01T00:00:00Z"));
    expect(await count("SELECT count(*) AS n FROM suppressions WHERE email = ? AND reason = 'import'", address)).toBe(
      1,
    );
    const prefs = (await (await adminGet(`/v1/admin/contacts/${t}/preferences`)).json()) as Record<string, unknown>;
    expect(prefs).toMatchObject({ unsubscribed: true, suppressed: true, suppressionReason: "import" });
  });
});
