import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyedHash } from "../src/lib/keyed-hash";
import { adminAuth, adminGet, adminPost, call, unique } from "./helpers";
import { drainImport } from "./imports-helpers";

type SuppressionJob = {
  id: string;
  status: string;
  totalRows: number | null;
  suppressed: number;
  alreadySuppressed: number;
  invalid: number;
  dryRun: boolean;
  preset: string | null;
  errors: Array<{ row: number; error: string }>;
  error: string | null;
};

const start = async (envelope: Record<string, unknown>) => {
  const res = await adminPost("/v1/admin/suppressions/import", envelope);
  if (res.status !== 202) throw new Error(`import answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { jobId: string }).jobId;
};
const job = async (id: string) =>
  (await (await adminGet(`/v1/admin/suppressions/import/${id}`)).json()) as SuppressionJob;
/** Runs the job's chunks here (chunkRows small: several chunks), then reads its status over HTTP. */
const run = async (envelope: Record<string, unknown>, chunkRows = 2) => {
  const id = await start(envelope);
  await drainImport(id, chunkRows);
  return job(id);
};
const entry = (email: string) =>
  env.DB.prepare("SELECT email, reason, source, created_at FROM suppressions WHERE email = ?")
    .bind(email)
    .first<{ email: string; reason: string; source: string | null; created_at: number }>();
const contactCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM contacts").first<{ n: number }>())!.n;

describe("POST /v1/admin/suppressions/import", () => {
  it("imports Postmark's export: reasons and dates read, no contact created, row errors counted", async () => {
    const t = unique("pm");
    const csv = [
      "EmailAddress,SuppressionReason,Origin,CreatedAt",
      `${t}-a@Example.com,HardBounce,Recipient,2019-12-17T08:58:33-05:00`,
      `${t}-b@example.com,SpamComplaint,Recipient,2019-12-18T08:58:33-05:00`,
      `${t}-c@example.com,ManualSuppression,Customer,2019-12-19T08:58:33-05:00`,
      "not-an-address,HardBounce,Recipient,2019-12-19T08:58:33-05:00",
      `${t}-d@example.com,Bored,Recipient,2019-12-19T08:58:33-05:00`,
      `${t}-a@example.com,HardBounce,Recipient,2019-12-20T08:58:33-05:00`,
    ].join("\n");
    const contactsBefore = await contactCount();
    const done = await run({ format: "csv", data: csv, preset: "postmark" });
    expect(done).toMatchObject({ status: "completed", totalRows: 6, suppressed: 3, alreadySuppressed: 1, invalid: 2 });
    expect(done.errors).toEqual([
      { row: 4, error: "Invalid email format" },
      { row: 5, error: 'reason: "Bored" is not a bounce, complaint, unsubscribe or manual block' },
    ]);
    expect(await entry(`${t}-a@example.com`)).toEqual({
      email: `${t}-a@example.com`,
      reason: "hard_bounce",
      source: "postmark",
      created_at: Date.parse("2019-12-17T13:58:33Z"),
    });
    expect((await entry(`${t}-b@example.com`))?.reason).toBe("complaint");
    expect((await entry(`${t}-c@example.com`))?.reason).toBe("manual");
    expect(await contactCount()).toBe(contactsBefore);
  });

  it("is idempotent and never lifts or changes an existing suppression", async () => {
    const t = unique("idem");
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'complaint', 1)")
      .bind(`${t}-old@example.com`)
      .run();
    const csv = `address,reason\n${t}-old@example.com,hard_bounce\n${t}-new@example.com,bounce\n${t}-x@example.com,unsubscribe\n`;
    const first = await run({ format: "csv", data: csv });
    expect(first).toMatchObject({ suppressed: 2, alreadySuppressed: 1, invalid: 0 });
    expect(await entry(`${t}-old@example.com`)).toMatchObject({ reason: "complaint", created_at: 1, source: null });

    const before = await env.DB.prepare("SELECT * FROM suppressions WHERE email LIKE ? ORDER BY email")
      .bind(`${t}%`)
      .all();
    const again = await run({ format: "csv", data: csv });
    expect(again).toMatchObject({ suppressed: 0, alreadySuppressed: 3, invalid: 0 });
    const after = await env.DB.prepare("SELECT * FROM suppressions WHERE email LIKE ? ORDER BY email")
      .bind(`${t}%`)
      .all();
    expect(after.results).toEqual(before.results);
  });

  it("an erased person's hashed entry counts as suppressed, and the address is never written back in clear", async () => {
    const t = unique("erased");
    const address = `${t}@example.com`;
    const hashed = await keyedHash(env.ERASURE_HASH_SECRET)(address);
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'erased', 1)")
      .bind(hashed)
      .run();
    const done = await run({ format: "ndjson", data: `{"email":"${address.toUpperCase()}","reason":"complaint"}` });
    expect(done).toMatchObject({ suppressed: 0, alreadySuppressed: 1 });
    expect(await entry(address)).toBeNull();
  });

  it("a dry run counts what it would do across chunks and writes nothing", async () => {
    const t = unique("dry");
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', 1)")
      .bind(`${t}-known@example.com`)
      .run();
    const csv = `email\n${t}-1@example.com\n${t}-known@example.com\n${t}-2@example.com\n${t}-1@example.com\nnope\n`;
    const done = await run({ format: "csv", data: csv, reason: "manual", dryRun: true });
    expect(done).toMatchObject({ status: "completed", dryRun: true, suppressed: 2, alreadySuppressed: 2, invalid: 1 });
    const written = await env.DB.prepare("SELECT count(*) AS n FROM suppressions WHERE email LIKE ?")
      .bind(`${t}-_@%`)
      .first<{ n: number }>();
    expect(written!.n).toBe(0);
    const seen = await env.DB.prepare("SELECT count(*) AS n FROM import_seen_ids WHERE job_id = ?")
      .bind(done.id)
      .first<{ n: number }>();
    expect(seen!.n).toBe(0);
  });

  it("SendGrid's and Mailgun's exports need a reason (one file per list); Mailgun's RFC 2822 dates are read", async () => {
    const refused = await adminPost("/v1/admin/suppressions/import", {
      format: "csv",
      data: "email\na@example.com",
      preset: "sendgrid",
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/reason: required with the sendgrid preset/);

    const t = unique("mg");
    const csv = `address,code,error,created_at\n${t}@example.com,550,No such mailbox,"Fri, 21 Oct 2011 11:02:55 GMT"\n`;
    const done = await run({ format: "csv", data: csv, preset: "mailgun", reason: "hard_bounce" });
    expect(done).toMatchObject({ suppressed: 1, preset: "mailgun" });
    expect(await entry(`${t}@example.com`)).toMatchObject({
      reason: "hard_bounce",
      source: "mailgun",
      created_at: Date.parse("2011-10-21T11:02:55Z"),
    });
  });

  it("Resend's, SendGrid's and SES's columns are recognised", async () => {
    const t = unique("presets");
    const resend = await run({
      format: "csv",
      data: `id,email,origin,source_id,created_at\n1,${t}-r@example.com,complaint,,2026-10-06T23:47:56.678Z\n`,
      preset: "resend",
    });
    expect(resend).toMatchObject({ suppressed: 1 });
    expect(await entry(`${t}-r@example.com`)).toMatchObject({ reason: "complaint", source: "resend" });

    const sendgrid = await run({
      format: "csv",
      data: `email,created,reason,status\n${t}-s@example.com,1443651154,"550 5.1.1 unknown user",5.1.1\n`,
      preset: "sendgrid",
      reason: "complaint",
    });
    expect(sendgrid).toMatchObject({ suppressed: 1 });
    expect(await entry(`${t}-s@example.com`)).toMatchObject({ reason: "complaint", created_at: 1443651154000 });

    const ses = await run({
      format: "ndjson",
      data: `{"EmailAddress":"${t}-e@example.com","Reason":"BOUNCE","LastUpdateTime":"2024-05-01T10:00:00.000000+00:00"}`,
      preset: "ses",
    });
    expect(ses).toMatchObject({ suppressed: 1 });
    expect(await entry(`${t}-e@example.com`)).toMatchObject({ reason: "hard_bounce", source: "ses" });
  });

  it("a header without an address column fails the job; a contact import's id is not a suppression import", async () => {
    const failed = await run({ format: "csv", data: "who,why\na@example.com,bounce\n" });
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/No column holds the address/);
    const contactJob = await adminPost("/v1/admin/contacts/import", { format: "csv", data: "externalId\nx" });
    const { jobId } = (await contactJob.json()) as { jobId: string };
    expect((await adminGet(`/v1/admin/suppressions/import/${jobId}`)).status).toBe(404);
    expect((await adminGet(`/v1/admin/contacts/import/${failed.id}`)).status).toBe(404);
  });

  it("takes the raw file with its options in the query, and lists the job", async () => {
    const t = unique("raw");
    const res = await call("/v1/admin/suppressions/import?preset=sendgrid&reason=complaint&source=legacy-esp", {
      method: "POST",
      headers: { ...adminAuth(), "content-type": "text/csv" },
      body: `email,created,ip\n${t}@example.com,1715432400,203.0.113.7\n`,
    });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    await drainImport(jobId);
    expect(await entry(`${t}@example.com`)).toMatchObject({
      reason: "complaint",
      source: "legacy-esp",
      created_at: 1715432400000,
    });
    const header = await call("/v1/admin/suppressions/import", {
      method: "POST",
      headers: {
        ...adminAuth(),
        "content-type": "text/csv",
        "x-import-options": '{"preset":"postmark","dryRun":true}',
      },
      body: `EmailAddress,SuppressionReason\n${t}-h@example.com,HardBounce\n`,
    });
    expect(header.status).toBe(202);
    const list = (await (await adminGet("/v1/admin/suppressions/imports?limit=100")).json()) as {
      imports: Array<{ id: string }>;
    };
    expect(list.imports.map((j) => j.id)).toContain(jobId);
  });
});
