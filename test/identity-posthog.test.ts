import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { adminGet, call, ingestAuth, unique, waitForProcessedEvent } from "./helpers";
import { drainImport, startImport } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Detail = {
  externalId: string;
  email: string | null;
  properties: Record<string, unknown>;
  aliases: Array<{ alias: string; kind: string }>;
  merges: Array<{ from: string; source: string }>;
};
const detail = async (id: string) => {
  const res = await adminGet(`/v1/admin/contacts/${encodeURIComponent(id)}`);
  return { status: res.status, body: (await res.json()) as Detail };
};
const count = async (sql: string, ...binds: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;

/** A PostHog event through the webhook (sync mode: written before the answer). */
async function postHog(event: string, distinctId: string, properties: Record<string, unknown>, email?: string) {
  const res = await worker.fetch(
    new Request("http://localhost/v1/webhooks/posthog", {
      method: "POST",
      headers: { "content-type": "application/json", "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
      body: JSON.stringify({
        event: { uuid: crypto.randomUUID(), event, distinct_id: distinctId, properties },
        person: email ? { properties: { email } } : null,
      }),
    }),
    { ...env, POSTHOG_WEBHOOK_MODE: "sync" },
    createExecutionContext(),
  );
  expect(res.status).toBe(202);
}

describe("PostHog identity", () => {
  it("$identify with $anon_distinct_id makes the anonymous visitor the identified person", async () => {
    const [anon, user] = [unique("anon"), unique("user")];
    await postHog("$pageview", anon, { path: "/pricing" });
    await postHog("$pageview", anon, { path: "/signup" });
    await postHog("$identify", user, { $anon_distinct_id: anon });
    const { body } = await detail(anon);
    expect(body).toMatchObject({ externalId: user, aliases: [{ alias: anon, kind: "posthog_anonymous" }] });
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", user)).toBe(3);
    expect(await count("SELECT count(*) AS n FROM contacts WHERE external_id = ?", anon)).toBe(0);
    // Later anonymous events (a tab still open) count for the person.
    await postHog("$pageview", anon, { path: "/docs" });
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", user)).toBe(4);
  });

  it("when both exist, the anonymous contact merges into the identified one, and no address moves", async () => {
    const [anon, user] = [unique("anon"), unique("user")];
    // A person PostHog knows (with properties): it has a contact; `$set` is what reaches it.
    await postHog("$pageview", anon, { $set: { utm: "ads" } }, `${anon}@example.com`);
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "app:opened", userId: user } });
    await postHog("$create_alias", user, { alias: anon });
    const { body } = await detail(user);
    expect(body).toMatchObject({
      externalId: user,
      email: null, // a browser can't route mail to an address it names
      properties: { utm: "ads" },
      aliases: [{ alias: anon, kind: "posthog_anonymous" }],
      merges: [{ from: anon, source: "posthog" }],
    });
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", user)).toBe(3);
  });

  it("an anonymous id with no contact still becomes the person's alias, taking its stored events", async () => {
    const [anon, user] = [unique("anon"), unique("user")];
    await env.DB.prepare(
      `INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at, processed_at)
       VALUES (?, '$pageview', ?, '{}', 'posthog', ?, ?, ?)`,
    )
      .bind(crypto.randomUUID(), anon, Date.now(), Date.now(), Date.now())
      .run();
    await postHog("$identify", user, { $anon_distinct_id: anon });
    expect((await detail(anon)).body).toMatchObject({ externalId: user, aliases: [{ alias: anon }] });
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", user)).toBe(2);
  });

  it("never claims an email-keyed contact by address, buffered or not", async () => {
    const t = unique("phclaim").replace("_", "-");
    const address = `ada@${t}.example.com`;
    await drainImport(await startImport({ format: "csv", data: `externalId,email\n${address},${address}\n` }));
    const user = unique("user");
    const uuid = crypto.randomUUID();
    await call("/v1/webhooks/posthog", {
      method: "POST",
      headers: { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
      json: {
        event: { uuid, event: "$identify", distinct_id: user, properties: {} },
        person: { properties: { email: address } },
      },
    });
    await waitForProcessedEvent(`posthog:${uuid}`);
    expect((await detail(address)).body).toMatchObject({ externalId: address, aliases: [] });
  });
});
