import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { keyedHash } from "../src/lib/keyed-hash";
import { resendProvider } from "../src/providers/email/resend-api";
import { deliverEmail } from "../src/services/emails";
import { adminAuth, adminGet, adminPost, call, ingestAuth, ndjsonText, queuedEmail, testHash, unique } from "./helpers";
import { drainImport } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

type Entry = { address: string; erased: boolean; reason: string; source: string | null; createdAt: string };
type Page = { suppressions: Entry[]; nextCursor: string | null };

const seed = (email: string, reason: string, source: string | null = null) =>
  env.DB.prepare("INSERT INTO suppressions (email, reason, source, created_at) VALUES (?, ?, ?, ?)")
    .bind(email, reason, source, Date.parse("2025-01-15T09:30:00Z"))
    .run();
const list = async (query: string) => (await (await adminGet(`/v1/admin/suppressions?${query}`)).json()) as Page;
const lift = (address: string, query = "") =>
  call(`/v1/admin/suppressions/${encodeURIComponent(address)}${query}`, { method: "DELETE", headers: adminAuth() });

// Journeys started by the ingest below just sleep; nothing here waits on them.
introspectJourneysForFile();

describe("GET /v1/admin/suppressions", () => {
  it("pages by address, filters by reason and source, and finds one address in clear or hashed", async () => {
    const src = unique("src");
    for (const n of [3, 1, 2]) await seed(`${src}-${n}@example.com`, n === 2 ? "complaint" : "hard_bounce", src);
    const first = await list(`source=${src}&limit=2`);
    expect(first.suppressions.map((e) => e.address)).toEqual([`${src}-1@example.com`, `${src}-2@example.com`]);
    const second = await list(`source=${src}&limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect(second).toEqual({
      suppressions: [
        {
          address: `${src}-3@example.com`,
          erased: false,
          reason: "hard_bounce",
          source: src,
          createdAt: "2025-01-15T09:30:00.000Z",
        },
      ],
      nextCursor: null,
    });
    expect((await list(`source=${src}&reason=complaint`)).suppressions.map((e) => e.address)).toEqual([
      `${src}-2@example.com`,
    ]);
    expect((await list(`address=${encodeURIComponent(` ${src}-3@EXAMPLE.com `)}`)).suppressions).toHaveLength(1);

    const erased = `${unique("gone")}@example.com`;
    const hashed = await keyedHash(env.ERASURE_HASH_SECRET)(erased);
    await seed(hashed, "erased");
    expect((await list(`address=${encodeURIComponent(erased)}`)).suppressions).toEqual([
      { address: hashed, erased: true, reason: "erased", source: null, createdAt: "2025-01-15T09:30:00.000Z" },
    ]);
  });
});

describe("GET /v1/admin/suppressions/export", () => {
  it("streams CSV with escaped cells and hashes for erased people, and NDJSON; follows with X-Next-Cursor", async () => {
    const src = unique("exp");
    await seed(`${src}-a@example.com`, "hard_bounce", `=cmd|${src}`);
    const erased = `${src}-b@example.com`;
    const hashed = await keyedHash(env.ERASURE_HASH_SECRET)(erased);
    await seed(hashed, "complaint", `=cmd|${src}`);
    const res = await adminGet(`/v1/admin/suppressions/export?source=${encodeURIComponent(`=cmd|${src}`)}`);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const csv = await res.text();
    expect(csv).toBe(
      [
        "address,reason,source,createdAt",
        `${src}-a@example.com,hard_bounce,'=cmd|${src},2025-01-15T09:30:00.000Z`,
        `${hashed},complaint,'=cmd|${src},2025-01-15T09:30:00.000Z`,
        "",
      ].join("\n"),
    );
    expect(csv).not.toContain(erased);

    const page = await adminGet(
      `/v1/admin/suppressions/export?format=ndjson&limit=1&source=${encodeURIComponent(`=cmd|${src}`)}`,
    );
    expect(page.headers.get("x-next-cursor")).toBe(`${src}-a@example.com`);
    expect(
      (await ndjsonText(page))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).address),
    ).toEqual([`${src}-a@example.com`]);
  });

  it("the export imports back as it is", async () => {
    const src = unique("round");
    await seed(`${src}@example.com`, "complaint", src);
    const csv = await (await adminGet(`/v1/admin/suppressions/export?source=${src}`)).text();
    await env.DB.prepare("DELETE FROM suppressions WHERE source = ?").bind(src).run();
    const res = await adminPost("/v1/admin/suppressions/import", { format: "csv", data: csv });
    const { jobId } = (await res.json()) as { jobId: string };
    await drainImport(jobId);
    expect((await list(`source=${src}`)).suppressions).toEqual([
      {
        address: `${src}@example.com`,
        erased: false,
        reason: "complaint",
        source: src,
        createdAt: "2025-01-15T09:30:00.000Z",
      },
    ]);
  });
});

describe("POST /v1/admin/suppressions", () => {
  it("suppresses 1,000 addresses in one write batch; existing ones keep their entry, invalid ones are listed", async () => {
    const t = unique("bulk");
    await seed(`${t}-0@example.com`, "complaint");
    const addresses = Array.from({ length: 1000 }, (_, i) => (i === 7 ? "nope" : `${t}-${i}@Example.com`));
    const res = await adminPost("/v1/admin/suppressions", { addresses, reason: "hard_bounce", source: "legacy" });
    expect(res.status).toBe(200);
    // The suppressions in one batch with their audit entry, then the counts only its results knew
    // added to the entry (3 when the entry was written before the batch and finished after it).
    expect(res.headers.get("x-d1-round-trips")).toBe("2");
    expect(await res.json()).toEqual({
      suppressed: 998,
      alreadySuppressed: 1,
      invalid: [{ index: 7, address: "nope", error: "Invalid email format" }],
    });
    expect((await list(`address=${t}-0@example.com`)).suppressions[0]).toMatchObject({
      reason: "complaint",
      source: null,
    });
    expect((await list(`address=${t}-999@example.com`)).suppressions[0]).toMatchObject({
      address: `${t}-999@example.com`,
      reason: "hard_bounce",
      source: "legacy",
    });
    const again = await adminPost("/v1/admin/suppressions", { addresses: [`${t}-1@example.com`] });
    expect(await again.json()).toEqual({ suppressed: 0, alreadySuppressed: 1, invalid: [] });
  });
});

describe("DELETE /v1/admin/suppressions/{address}", () => {
  it("lifts a bounce, records who and when, and shows it on the contact's history", async () => {
    const userId = unique("lift");
    const address = `${userId}@example.com`;
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "profile", userId, userEmail: address },
    });
    await adminPost("/v1/admin/suppressions", { addresses: [address], reason: "hard_bounce" });

    const res = await lift(address.toUpperCase());
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      lifted: Array<{ address: string; reason: string }>;
      liftedBy: string;
      forced: boolean;
    };
    expect(body).toMatchObject({
      lifted: [{ address, reason: "hard_bounce" }],
      liftedBy: "ADMIN_API_KEY",
      forced: false,
    });
    expect((await list(`address=${address}`)).suppressions).toEqual([]);
    const record = await env.DB.prepare(
      "SELECT email, reason, forced, lifted_by FROM suppression_lifts WHERE email = ?",
    )
      .bind(address)
      .first();
    expect(record).toEqual({ email: address, reason: "hard_bounce", forced: 0, lifted_by: "ADMIN_API_KEY" });
    const preferences = (await (await adminGet(`/v1/admin/contacts/${userId}/preferences`)).json()) as {
      suppressed: boolean;
      changes: Array<{ field: string; from: string | null; to: string | null; source: string }>;
    };
    expect(preferences.suppressed).toBe(false);
    expect(preferences.changes[0]).toMatchObject({
      field: "suppressed",
      from: "hard_bounce",
      to: null,
      source: "admin",
    });
    expect((await lift(address)).status).toBe(404);
  });

  it("a complaint is lifted only with force=true", async () => {
    const address = `${unique("complaint")}@example.com`;
    await seed(address, "complaint");
    const refused = await lift(address);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toMatch(/force=true/);
    expect((await list(`address=${address}`)).suppressions).toHaveLength(1);
    const forced = await lift(address, "?force=true");
    expect(forced.status).toBe(200);
    expect(((await forced.json()) as { forced: boolean }).forced).toBe(true);
    expect((await list(`address=${address}`)).suppressions).toEqual([]);
  });

  it("lifts an erased person's hashed entry by address, recording only the hash", async () => {
    const address = `${unique("erasedlift")}@example.com`;
    const hashed = await keyedHash(env.ERASURE_HASH_SECRET)(address);
    await seed(hashed, "hard_bounce");
    expect((await lift(address)).status).toBe(200);
    const records = await env.DB.prepare("SELECT email FROM suppression_lifts WHERE email IN (?, ?)")
      .bind(address, hashed)
      .all();
    expect(records.results).toEqual([{ email: hashed }]);
  });
});

describe("imported suppressions hold at once", () => {
  it("a suppressed address never enters a journey", async () => {
    const userId = unique("held");
    await adminPost("/v1/admin/suppressions", {
      addresses: [`${userId}@EXAMPLE.com`],
      reason: "complaint",
      source: "postmark",
    });
    const res = await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "user:signed_up", userId, userEmail: `${userId}@example.com` },
    });
    const body = (await res.json()) as { skipped: Array<{ journey: string; reason: string }> };
    expect(body.skipped).toEqual([{ journey: "activation-welcome", reason: "suppressed" }]);
  });

  it("an imported suppression blocks the send step before the provider is called", async () => {
    const { id, userId } = await queuedEmail();
    const started = await adminPost("/v1/admin/suppressions/import", {
      format: "csv",
      data: `EmailAddress,SuppressionReason\n${userId}@Example.com,SpamComplaint\n`,
      preset: "postmark",
    });
    await drainImport(((await started.json()) as { jobId: string }).jobId);
    let calls = 0;
    const fetcher = (async () => {
      calls += 1;
      return new Response(JSON.stringify({ id: "re_1" }));
    }) as unknown as typeof fetch;
    const email = await deliverEmail(
      {
        db: createDb(env.DB),
        hash: testHash,
        provider: resendProvider("re_test_key", fetcher),
        from: "Hogsend <hello@example.com>",
        publicBaseUrl: "https://mail.example.com",
        tokenSecret: env.TOKEN_SIGNING_SECRET,
        maxPerAddressPerDay: 10,
        webhookQueue: env.WEBHOOK_DELIVERIES_QUEUE,
      },
      id,
    );
    expect(email).toMatchObject({ status: "suppressed", error: "Address suppressed: complaint" });
    expect(calls).toBe(0);
  });
});
