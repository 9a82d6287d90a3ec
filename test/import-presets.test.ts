import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import customerio from "./fixtures/customerio-people.csv?raw";
import hubspot from "./fixtures/hubspot-contacts.csv?raw";
import cleaned from "./fixtures/mailchimp/cleaned_members_export_3f1a9c.csv?raw";
import subscribed from "./fixtures/mailchimp/subscribed_members_export_3f1a9c.csv?raw";
import unsubscribed from "./fixtures/mailchimp/unsubscribed_members_export_3f1a9c.csv?raw";
import { call, ingestAuth, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

// Journeys entered here only sleep; what matters is who enters and who is skipped.
introspectJourneysForFile();

/** The sample file with its addresses made unique to this test (the fixture domain is example.com). */
const domainSafe = (t: string) => t.replace("_", "-");
const sample = (file: string, t: string) => file.replaceAll(/example\.com/gi, `${t}.example.com`);

type ContactRow = {
  external_id: string;
  email: string | null;
  properties: string;
  unsubscribed_at: number | null;
};
async function contact(externalId: string) {
  const row = await env.DB.prepare("SELECT * FROM contacts WHERE external_id = ?").bind(externalId).first<ContactRow>();
  return row && { ...row, properties: JSON.parse(row.properties) as Record<string, unknown> };
}
const changes = async (externalId: string) =>
  (
    await env.DB.prepare(
      "SELECT field, old_value, new_value, source FROM contact_changes WHERE contact_id = (SELECT id FROM contacts WHERE external_id = ?) AND field != 'email' ORDER BY id",
    )
      .bind(externalId)
      .all()
  ).results;
const suppression = (email: string) =>
  env.DB.prepare("SELECT reason, created_at FROM suppressions WHERE email = ?")
    .bind(email)
    .first<{ reason: string; created_at: number }>();

async function importWith(data: string, options: Record<string, unknown>) {
  const jobId = await startImport({ format: "csv", data, ...options });
  return { jobId, job: await drainImport(jobId) };
}

const signUp = async (userId: string) =>
  (await (
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "user:signed_up", userId } })
  ).json()) as { journeys: unknown[]; skipped: Array<{ journey: string; reason: string }> };
const emailsTo = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM emails WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("preset: mailchimp (the audience export's three files)", () => {
  it("imports subscribed members with types, keyed by the lowercased address", async () => {
    const t = domainSafe(unique("mc"));
    const { job } = await importWith(sample(subscribed, t), { preset: "mailchimp" });
    expect(job).toMatchObject({
      status: "completed",
      totalRows: 3,
      processedRows: 3,
      failedRows: 0,
      preset: "mailchimp",
    });

    const ada = await contact(`ada@${t}.example.com`);
    expect(ada).toMatchObject({ email: `Ada@${t}.example.com`, unsubscribed_at: null });
    expect(ada?.properties).toMatchObject({
      firstName: "Ada",
      lastName: "Lovelace",
      phone: "+44 20 7946 0000",
      memberRating: 4,
      optinTime: "2024-01-05T10:00:00.000Z",
      confirmTime: "2024-01-05T10:01:30.000Z",
      lastChanged: "2024-03-01T09:00:00.000Z",
      latitude: 51.5074,
      longitude: -0.1278,
      tags: ["vip", "beta"],
      // Merge fields and Mailchimp's own ids stay, under their own headers.
      COMPANY: "Analytical Engines",
      LEID: "108734521",
      EUID: "a1b2c3d4e5",
    });
    // Empty cells are not properties; an empty TAGS is no tags at all.
    expect((await contact(`grace@${t}.example.com`))?.properties).not.toHaveProperty("tags");
    expect((await contact(`grace@${t}.example.com`))?.properties).not.toHaveProperty("CONFIRM_TIME");
  });

  it("marks the unsubscribed file's members unsubscribed and suppresses the cleaned file's addresses: signing up sends them nothing", async () => {
    const t = domainSafe(unique("mcopt"));
    await importWith(sample(subscribed, t), { preset: "mailchimp" });
    const unsub = await importWith(sample(unsubscribed, t), { preset: "mailchimp" });
    const clean = await importWith(sample(cleaned, t), { preset: "mailchimp" });
    expect(unsub.job).toMatchObject({ status: "completed", processedRows: 2, failedRows: 0 });
    expect(clean.job).toMatchObject({ status: "completed", processedRows: 1, failedRows: 0 });

    const linus = await contact(`linus@${t}.example.com`);
    expect(linus).toMatchObject({
      email: `Linus@${t}.example.com`,
      unsubscribed_at: Date.parse("2024-02-10T08:30:00Z"),
    });
    // As any unsubscribe: recorded with its source, and the address suppressed.
    expect(await changes(`linus@${t}.example.com`)).toEqual([
      { field: "unsubscribed", old_value: "false", new_value: "true", source: "import" },
    ]);
    expect((await suppression(`linus@${t}.example.com`))?.reason).toBe("unsubscribed");
    expect(await changes(`bounced@${t}.example.com`)).toEqual([
      { field: "suppressed", old_value: null, new_value: "import:mailchimp-cleaned", source: "import" },
    ]);
    expect(linus?.properties).toMatchObject({ UNSUB_REASON: "NORMAL", memberRating: 3 });
    expect(await suppression(`bounced@${t}.example.com`)).toEqual({
      reason: "import:mailchimp-cleaned",
      created_at: Date.parse("2024-01-20T03:12:00Z"),
    });
    expect((await contact(`bounced@${t}.example.com`))?.unsubscribed_at).toBeNull();

    for (const [user, reason] of [
      [`linus@${t}.example.com`, "unsubscribed"],
      [`margaret@${t}.example.com`, "unsubscribed"],
      [`bounced@${t}.example.com`, "suppressed"],
    ]) {
      expect((await signUp(user!)).skipped).toContainEqual({ journey: "activation-welcome", reason });
      expect(await emailsTo(user!)).toBe(0);
    }
    // The subscribed members still enter.
    expect((await signUp(`ada@${t}.example.com`)).journeys).toHaveLength(1);
  });

  it("never lifts an opt-out: re-importing the subscribed file leaves the unsubscribe and the suppression", async () => {
    const t = domainSafe(unique("mcnolift"));
    await importWith(sample(unsubscribed, t), { preset: "mailchimp" });
    await importWith(sample(cleaned, t), { preset: "mailchimp" });
    const resubscribed = sample(subscribed, t)
      .replace(`"Ada@${t}.example.com"`, `"Linus@${t}.example.com"`)
      .replace(`"grace@${t}.example.com"`, `"bounced@${t}.example.com"`);
    expect((await importWith(resubscribed, { preset: "mailchimp" })).job).toMatchObject({ processedRows: 3 });
    // A later unsubscribe in another file keeps the first time and source.
    const again = sample(unsubscribed, t).replace("2024-02-10 08:30:00", "2025-01-01 00:00:00");
    await importWith(again, { preset: "mailchimp" });

    expect((await contact(`linus@${t}.example.com`))?.unsubscribed_at).toBe(Date.parse("2024-02-10T08:30:00Z"));
    expect(await changes(`linus@${t}.example.com`)).toHaveLength(1);
    expect((await suppression(`bounced@${t}.example.com`))?.reason).toBe("import:mailchimp-cleaned");
  });
});

describe("preset: hubspot", () => {
  it("keys contacts by address, keeps the Record ID, converts dates, and carries 'Unsubscribed from all email'", async () => {
    const t = domainSafe(unique("hs"));
    const before = Date.now();
    const { job } = await importWith(sample(hubspot, t), { preset: "hubspot" });
    expect(job).toMatchObject({ status: "completed", totalRows: 3, processedRows: 2, failedRows: 1 });
    expect(job.errors).toEqual([{ row: 3, error: "Missing externalId" }]);

    const joan = await contact(`joan.clarke@${t}.example.com`);
    expect(joan).toMatchObject({ email: `Joan.Clarke@${t}.example.com`, unsubscribed_at: null });
    expect(joan?.properties).toMatchObject({
      hubspotId: "51",
      firstName: "Joan",
      createdAt: "2024-01-05T10:00:00.000Z",
      lastActivityAt: "2024-04-02T16:30:00.000Z",
      "Lead Status": "Open",
      "Associated Company": "Bletchley Ltd",
    });
    const alan = await contact(`alan@${t}.example.com`);
    expect(alan?.unsubscribed_at).toBeGreaterThanOrEqual(before);
    expect(alan?.properties).not.toHaveProperty("Unsubscribed from all email");
  });
});

describe("preset: customerio", () => {
  it("takes id as externalId, created_at (Unix seconds) as a date, unsubscribed as an opt-out, attributes as properties", async () => {
    const t = domainSafe(unique("cio"));
    const data = sample(customerio, t).replaceAll("user_", `${t}_`);
    const { job } = await importWith(data, { preset: "customerio", types: { seats: "number" } });
    expect(job).toMatchObject({ status: "completed", totalRows: 3, processedRows: 2, failedRows: 1 });
    expect(job.errors).toEqual([{ row: 3, error: "seats: not a number" }]);

    const dorothy = await contact(`${t}_1001`);
    expect(dorothy).toMatchObject({ email: `dorothy@${t}.example.com`, unsubscribed_at: null });
    expect(dorothy?.properties).toEqual({
      cioId: "cio_04a1b2c3",
      createdAt: "2024-01-05T10:00:00.000Z",
      plan: "pro",
      seats: 12,
      company: "Vaughan & Co",
    });
    expect((await contact(`${t}_1002`))?.unsubscribed_at).not.toBeNull();
    expect(await contact(`${t}_1003`)).toBeNull();
  });
});
