import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { call, expectErrorShape, ingestAuth, unique } from "./helpers";

const ingest = (json: unknown) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });

const postHogSync = (userId: string, uuid: string) =>
  worker.fetch(
    new Request("http://localhost/v1/webhooks/posthog", {
      method: "POST",
      headers: { "content-type": "application/json", "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
      body: JSON.stringify({ event: { uuid, event: "page:viewed", distinct_id: userId } }),
    }),
    { ...env, POSTHOG_WEBHOOK_MODE: "sync" },
    createExecutionContext(),
  );

const eventsOf = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM events WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("idempotency keys are namespaced by source", () => {
  it("a PostHog uuid equal to an API key is not a duplicate of it, either way round", async () => {
    const first = crypto.randomUUID();
    const apiUser = unique("ns_api");
    const phUser = unique("ns_ph");
    expect(await (await ingest({ event: "a", userId: apiUser, idempotencyKey: first })).json()).toMatchObject({
      stored: true,
    });
    expect(await (await postHogSync(phUser, first)).json()).toMatchObject({ stored: true });

    const second = crypto.randomUUID();
    expect(await (await postHogSync(phUser, second)).json()).toMatchObject({ stored: true });
    expect(await (await ingest({ event: "a", userId: apiUser, idempotencyKey: second })).json()).toMatchObject({
      stored: true,
    });
    expect(await eventsOf(apiUser)).toBe(2);
    expect(await eventsOf(phUser)).toBe(2);
    // Each source's own retry is still a duplicate.
    expect(await (await postHogSync(phUser, first)).json()).toEqual({ stored: false });
    expect(await (await ingest({ event: "a", userId: apiUser, idempotencyKey: first })).json()).toMatchObject({
      stored: false,
    });
  });

  it("refuses an API key in PostHog's namespace", async () => {
    const body = await expectErrorShape(
      await ingest({ event: "a", userId: unique("ns"), idempotencyKey: `posthog:${crypto.randomUUID()}` }),
      400,
      "VALIDATION_ERROR",
    );
    expect(body.error).toMatch(/idempotencyKey/);
  });

  it("a PostHog event stored before namespacing is still a duplicate after the migration", async () => {
    const userId = unique("ns_old");
    const uuid = crypto.randomUUID();
    // A row as the previous release wrote it: the bare uuid.
    await env.DB.prepare(
      "INSERT INTO events (id, event, user_id, properties, idempotency_key, source, occurred_at, received_at, processed_at) VALUES (?, 'page:viewed', ?, '{}', ?, 'posthog', ?, ?, ?)",
    )
      .bind(crypto.randomUUID(), userId, uuid, Date.now(), Date.now(), Date.now())
      .run();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0013_"))!;
    await env.DB.batch(migration.queries.filter((q) => q.includes("UPDATE `events`")).map((q) => env.DB.prepare(q)));
    expect(await (await postHogSync(userId, uuid)).json()).toEqual({ stored: false });
    expect(await eventsOf(userId)).toBe(1);
  });
});
