import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, adminGet, call, expectErrorShape, ingestAuth, ndjsonText, unique } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";

type TopicState = { key: string; subscribed: boolean; choice: boolean | null };
const topicsOf = async (userId: string) => {
  const body = (await (await adminGet(`/v1/admin/contacts/${userId}/preferences`)).json()) as { topics: TopicState[] };
  return Object.fromEntries(body.topics.map((t) => [t.key, t.choice]));
};
const putPreferences = (userId: string, json: unknown) =>
  call(`/v1/admin/contacts/${userId}/preferences`, { method: "PUT", headers: adminAuth(), json });

async function contact(prefix: string) {
  const userId = unique(prefix);
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: `${userId}@example.com` },
  });
  return userId;
}

describe("admin: templates and topics", () => {
  it("lists templates with their topic and their data schema as JSON Schema", async () => {
    const res = await adminGet("/v1/admin/templates");
    expect(res.status).toBe(200);
    const { templates } = (await res.json()) as {
      templates: Array<{
        key: string;
        topic: string | null;
        transactional: boolean;
        dataSchema: Record<string, unknown>;
      }>;
    };
    const reset = templates.find((t) => t.key === "password-reset")!;
    expect(reset).toMatchObject({ topic: null, transactional: true });
    expect(reset.dataSchema).toMatchObject({
      type: "object",
      required: ["resetUrl"],
      properties: { resetUrl: { type: "string", format: "uri" } },
    });
    expect(templates.find((t) => t.key === "welcome")).toMatchObject({ topic: "onboarding", transactional: false });
  });

  it("lists topics", async () => {
    const { topics } = (await (await adminGet("/v1/admin/topics")).json()) as {
      topics: Array<{ key: string; defaultOptIn: boolean }>;
    };
    expect(topics.map((t) => [t.key, t.defaultOptIn])).toEqual([
      ["onboarding", true],
      ["reminders", true],
      ["product-updates", true],
      ["weekly-digest", false],
    ]);
  });

  it("GET/PUT preferences shows and sets topics; an unknown topic is a 400 naming it and changes nothing", async () => {
    const userId = await contact("topics_put");
    expect(await topicsOf(userId)).toEqual({
      onboarding: null,
      reminders: null,
      "product-updates": null,
      "weekly-digest": null,
    });
    const res = await putPreferences(userId, { topics: { "weekly-digest": true, reminders: false } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { topics: TopicState[] };
    expect(body.topics.find((t) => t.key === "weekly-digest")).toMatchObject({ subscribed: true, choice: true });
    expect(body.topics.find((t) => t.key === "onboarding")).toMatchObject({ subscribed: true, choice: null });
    const bad = await expectErrorShape(
      await putPreferences(userId, { topics: { nope: true, onboarding: false } }),
      400,
    );
    expect(bad.error).toContain("topics.nope");
    expect((await topicsOf(userId)).onboarding).toBeNull();
  });
});

describe("erasure", () => {
  it("erasing a contact removes its topic choices", async () => {
    const userId = await contact("topics_erase");
    await putPreferences(userId, { topics: { "weekly-digest": true } });
    const { id } = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { id: string };
    const res = await call(`/v1/admin/contacts/${userId}`, { method: "DELETE", headers: adminAuth() });
    expect(res.status).toBe(200);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM topic_preferences WHERE contact_id = ?")
      .bind(id)
      .first<{ n: number }>();
    expect(left!.n).toBe(0);
  });
});

describe("imports and exports carry topic choices", () => {
  it("maps subscription columns onto topics (topic:<key>); a yes never lifts an earlier no", async () => {
    const t = unique("topicimp");
    const first = [
      "id,email,Newsletter,Digest",
      `${t}_1,${t}_1@example.com,yes,subscribed`,
      `${t}_2,${t}_2@example.com,no,`,
      `${t}_3,${t}_3@example.com,maybe,`,
    ].join("\n");
    const mapping = { id: "externalId", Newsletter: "topic:product-updates", Digest: "topic:weekly-digest" };
    const job = await drainImport(await startImport({ format: "csv", data: first, mapping }));
    expect(job).toMatchObject({ status: "completed", processedRows: 2, failedRows: 1 });
    expect(job.errors).toEqual([{ row: 3, error: "Newsletter: not a subscription state (yes/no)" }]);
    expect(await topicsOf(`${t}_1`)).toMatchObject({ "product-updates": true, "weekly-digest": true });
    expect(await topicsOf(`${t}_2`)).toMatchObject({ "product-updates": false, "weekly-digest": null });

    const again = `id,Newsletter\n${t}_1,no\n${t}_2,yes\n`;
    await drainImport(
      await startImport({
        format: "csv",
        data: again,
        mapping: { id: "externalId", Newsletter: "topic:product-updates" },
      }),
    );
    expect((await topicsOf(`${t}_1`))["product-updates"]).toBe(false);
    expect((await topicsOf(`${t}_2`))["product-updates"]).toBe(false);

    const unknown = await drainImport(
      await startImport({ format: "csv", data: first, mapping: { id: "externalId", Newsletter: "topic:nope" } }),
    );
    expect(unknown).toMatchObject({ status: "failed" });
    expect(unknown.error).toContain('unknown topic: "nope"');
  });

  it("exports each contact's topic choices (JSON, NDJSON, and CSV columns a mapped import reads back)", async () => {
    const userId = await contact("topicexp");
    await putPreferences(userId, { topics: { "product-updates": false, "weekly-digest": true } });
    const json = (await (await adminGet(`/v1/admin/contacts/export?format=json&search=${userId}`)).json()) as {
      contacts: Array<{ externalId: string; topics: Record<string, boolean> }>;
    };
    expect(json.contacts).toEqual([
      expect.objectContaining({ externalId: userId, topics: { "product-updates": false, "weekly-digest": true } }),
    ]);
    const ndjson = await ndjsonText(await adminGet(`/v1/admin/contacts/export?format=ndjson&search=${userId}`));
    expect(JSON.parse(ndjson.trim()).topics).toEqual({ "product-updates": false, "weekly-digest": true });
    const csv = await (await adminGet(`/v1/admin/contacts/export?format=csv&search=${userId}`)).text();
    const [header, row] = csv.trim().split("\n");
    expect(header).toBe("externalId,email,aliases,topic:product-updates,topic:weekly-digest");
    expect(row).toBe(`${userId},${userId}@example.com,,false,true`);

    const other = await contact("topicexp_none");
    const plain = await (await adminGet(`/v1/admin/contacts/export?format=csv&search=${other}`)).text();
    expect(plain.split("\n")[0]).toBe("externalId,email,aliases");

    // Read back: the topic columns need no mapping of their own.
    const back = csv.replace(userId, `${userId}_copy`).replace(`${userId}@`, `${userId}_copy@`);
    await drainImport(await startImport({ format: "csv", data: back, mapping: { email: "email" } }));
    expect(await topicsOf(`${userId}_copy`)).toMatchObject({ "product-updates": false, "weekly-digest": true });
  });
});
