import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { adminAuth, call, expectErrorShape, testHash, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Entry = { action: string; outcome: string; status: number | null; targetIds: string[]; counts: object };

/** The entries of one request, straight from D1. */
async function entriesOf(res: Response): Promise<Entry[]> {
  const { results } = await env.DB.prepare(
    "SELECT action, outcome, status, target_ids, counts FROM audit_log WHERE request_id = ?",
  )
    .bind(res.headers.get("x-request-id"))
    .all<{ action: string; outcome: string; status: number | null; target_ids: string; counts: string }>();
  return results.map(({ target_ids, counts, ...r }) => ({
    ...r,
    targetIds: JSON.parse(target_ids),
    counts: JSON.parse(counts),
  }));
}

const trips = (res: Response) => Number(res.headers.get("x-d1-round-trips"));

/** Real D1 faults: a trigger aborts the batch it fires in (dropped after each test). */
const triggers: string[] = [];
async function abortWhen(table: string, condition: string) {
  const name = unique("fault");
  triggers.push(name);
  await env.DB.exec(
    `CREATE TRIGGER ${name} BEFORE INSERT ON ${table} WHEN ${condition} BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
  );
}
afterEach(async () => {
  for (const name of triggers.splice(0)) await env.DB.exec(`DROP TRIGGER IF EXISTS ${name}`);
});

describe("an audit entry commits in the change's own D1 batch", () => {
  it("key creation and revocation: one round trip each (before: 3 and 4), entry with the key's id", async () => {
    const created = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: adminAuth(),
      json: { name: unique("batch"), scopes: ["read"] },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(trips(created)).toBe(1);
    expect(await entriesOf(created)).toEqual([
      { action: "createApiKey", outcome: "ok", status: 201, targetIds: [id], counts: {} },
    ]);

    const revoked = await call(`/v1/admin/api-keys/${id}`, { method: "DELETE", headers: adminAuth() });
    expect(revoked.status).toBe(200);
    expect(trips(revoked)).toBe(1);
    expect(await entriesOf(revoked)).toEqual([
      { action: "revokeApiKey", outcome: "ok", status: 200, targetIds: [id], counts: {} },
    ]);
  });

  it("a journey switch and a bulk resend: one round trip fewer, and none for an entry the batch already says all of", async () => {
    const { journeys: before } = (await (await call("/v1/admin/journeys", { headers: adminAuth() })).json()) as {
      journeys: Array<{ key: string }>;
    };
    const key = before[0]!.key;
    const switched = await call(`/v1/admin/journeys/${key}`, {
      method: "PATCH",
      headers: adminAuth(),
      json: { enabled: null },
    });
    expect(switched.status).toBe(200);
    // The write with its entry, the journey as it now stands (2 reads), then the enrollment counts
    // that answer reports, added to the entry (before: a `started` entry first as well, 5).
    expect(trips(switched)).toBe(4);
    expect(await entriesOf(switched)).toEqual([
      expect.objectContaining({ action: "updateJourney", outcome: "ok", status: 200, targetIds: [key] }),
    ]);

    const resent = await call("/v1/admin/emails/resend", {
      method: "POST",
      headers: adminAuth(),
      json: { filter: { templateKey: unique("no-such-template") }, limit: 10, dryRun: true },
    });
    expect(resent.status).toBe(200);
    // The candidates, then the batch that holds the entry with its counts (before: 4).
    expect(trips(resent)).toBe(2);
    expect(await entriesOf(resent)).toEqual([
      { action: "resendEmails", outcome: "ok", status: 200, targetIds: [], counts: { resent: 0, skipped: 0 } },
    ]);
  });

  it("work that goes on later (an import upload): the entry commits with the row that starts it", async () => {
    const created = await call("/v1/admin/contacts/import/uploads", {
      method: "POST",
      headers: adminAuth(),
      json: { format: "csv" },
    });
    expect(created.status).toBe(201);
    const { uploadId } = (await created.json()) as { uploadId: string };
    expect(trips(created)).toBe(1); // before: 3
    expect(await entriesOf(created)).toEqual([
      expect.objectContaining({ action: "createImportUpload", outcome: "ok", status: 201, targetIds: [uploadId] }),
    ]);
    const aborted = await call(`/v1/admin/contacts/import/uploads/${uploadId}`, {
      method: "DELETE",
      headers: adminAuth(),
    });
    expect(aborted.status).toBe(200);
    expect(await entriesOf(aborted)).toEqual([
      expect.objectContaining({ action: "abortImportUpload", outcome: "ok", targetIds: [uploadId] }),
    ]);
  });

  it("a lifted suppression's entry names the address only as its keyed hash", async () => {
    const address = `${unique("lift")}@example.com`;
    await call("/v1/admin/suppressions", { method: "POST", headers: adminAuth(), json: { addresses: [address] } });
    const lifted = await call(`/v1/admin/suppressions/${encodeURIComponent(address)}`, {
      method: "DELETE",
      headers: adminAuth(),
    });
    expect(lifted.status).toBe(200);
    const [entry] = await entriesOf(lifted);
    expect(entry).toMatchObject({ action: "liftSuppression", outcome: "ok", targetIds: [await testHash(address)] });
    expect(JSON.stringify(entry)).not.toContain("example.com");
  });

  it("a change whose batch fails leaves no half-change, and an entry saying it failed", async () => {
    const source = unique("boom");
    const addresses = [`${source}_a@example.com`, `${source}_b@example.com`];
    await abortWhen("suppressions", `NEW.source = '${source}'`);
    const res = await call("/v1/admin/suppressions", {
      method: "POST",
      headers: adminAuth(),
      json: { addresses, reason: "manual", source },
    });
    await expectErrorShape(res, 500, "INTERNAL_ERROR");
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM suppressions WHERE source = ?")
      .bind(source)
      .first<{ n: number }>())!;
    expect(n).toBe(0);
    expect(await entriesOf(res)).toEqual([
      { action: "suppressAddresses", outcome: "failed", status: 500, targetIds: [], counts: {} },
    ]);
  });

  it("an entry that can't be written stops the change with it: never a change without its entry", async () => {
    const name = unique("unaudited");
    await abortWhen("audit_log", "NEW.action = 'createApiKey'");
    const res = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: adminAuth(),
      json: { name, scopes: ["read"] },
    });
    await expectErrorShape(res, 500, "INTERNAL_ERROR");
    const row = await env.DB.prepare("SELECT id FROM api_keys WHERE name = ?").bind(name).first();
    expect(row).toBeNull();
  });

  it("a refused change (409) after its batch ran is settled as failed, with what the answer said", async () => {
    const created = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: adminAuth(),
      json: { name: unique("gone"), scopes: ["read"] },
    });
    const { id } = (await created.json()) as { id: string };
    const missing = await call(`/v1/admin/api-keys/${id}x`, { method: "DELETE", headers: adminAuth() });
    await expectErrorShape(missing, 404, "NOT_FOUND");
    expect(await entriesOf(missing)).toEqual([
      { action: "revokeApiKey", outcome: "failed", status: 404, targetIds: [`${id}x`], counts: {} },
    ]);
  });
});
