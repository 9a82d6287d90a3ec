import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { createDb, runBatch } from "../src/db/client";
import { ingestEvents } from "../src/pipeline/ingest";
import { contactUpsertStatements } from "../src/services/contacts";
import { adminGet, adminPost, call, ingestAuth, unique, waitForProcessedEvent } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

type EmailChange = { from: string | null; to: string | null; source: string; eventId: string | null; at: string };
type ContactBody = { email: string | null; emailChanges: EmailChange[] };

const contact = async (userId: string) =>
  (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as ContactBody;
const ingest = async (json: Record<string, unknown>) =>
  (await (await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json })).json()) as { eventId: string };
/** A PostHog webhook (buffered by default), answered once the event is written and processed. */
const postHog = async (distinctId: string, email: string) => {
  const uuid = crypto.randomUUID();
  const res = await call("/v1/webhooks/posthog", {
    method: "POST",
    headers: { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
    json: {
      event: { uuid, event: "$pageview", distinct_id: distinctId },
      person: { properties: { email } },
    },
  });
  expect(res.status).toBe(202);
  const { eventId } = (await res.json()) as { eventId: string };
  expect(await waitForProcessedEvent(`posthog:${uuid}`)).toBe(eventId);
  return eventId;
};
/** A PostHog event through the pipeline with other settings (the queue consumer reads the Worker's own). */
const postHogWith = async (settings: { postHogEmail: "fill" | "replace" }, userId: string, email: string) => {
  const [result] = await ingestEvents(
    { ...buildDeps(env).ingest, ...settings },
    [{ event: "$identify", userId, userEmail: email, idempotencyKey: `posthog:${crypto.randomUUID()}` }],
    "posthog",
  );
  return result!.stored ? result!.eventId : "";
};
const changesOf = (body: ContactBody) => body.emailChanges.map(({ from, to, source }) => ({ from, to, source }));

introspectJourneysForFile();

describe("address changes are controlled and recorded", () => {
  it("a PostHog event never sets an address by default", async () => {
    const userId = unique("ph_hijack");
    await ingest({ event: "profile", userId, userEmail: `${userId}@example.com` });
    await postHog(userId, "attacker@evil.example");
    const after = await contact(userId);
    expect(after.email).toBe(`${userId}@example.com`);
    expect(after.emailChanges).toEqual([]);
    // Not even a missing one: a browser event is captured with a public key.
    const imported = unique("ph_noaddr");
    await ingest({ event: "profile", userId: imported });
    await postHog(imported, "attacker@evil.example");
    expect(await contact(imported)).toMatchObject({ email: null, emailChanges: [] });
  });

  it("with POSTHOG_EMAIL_POLICY=fill a PostHog event fills a missing address, recorded with its event id", async () => {
    const userId = unique("ph_fill");
    await ingest({ event: "profile", userId });
    const eventId = await postHogWith({ postHogEmail: "fill" }, userId, `${userId}@example.com`);
    const after = await contact(userId);
    expect(after.email).toBe(`${userId}@example.com`);
    expect(after.emailChanges).toMatchObject([{ from: null, to: `${userId}@example.com`, source: "posthog", eventId }]);
    await postHogWith({ postHogEmail: "fill" }, userId, `other_${userId}@example.com`);
    expect((await contact(userId)).email).toBe(`${userId}@example.com`);
  });

  it("with POSTHOG_EMAIL_POLICY=replace PostHog replaces only an address PostHog set: authenticated sources win", async () => {
    const replace = { postHogEmail: "replace" } as const;
    const fromApi = unique("ph_api");
    await ingest({ event: "profile", userId: fromApi, userEmail: `${fromApi}@example.com` });
    await postHogWith(replace, fromApi, `new_${fromApi}@example.com`);
    expect(await contact(fromApi)).toMatchObject({ email: `${fromApi}@example.com`, emailChanges: [] });

    const userId = unique("ph_own");
    await ingest({ event: "profile", userId });
    await postHogWith(replace, userId, `a_${userId}@example.com`);
    const eventId = await postHogWith(replace, userId, `b_${userId}@example.com`);
    expect((await contact(userId)).email).toBe(`b_${userId}@example.com`);
    expect((await contact(userId)).emailChanges[0]).toMatchObject({
      to: `b_${userId}@example.com`,
      source: "posthog",
      eventId,
    });
    // The ingest API sets it: PostHog can no longer change it.
    await ingest({ event: "profile", userId, userEmail: `c_${userId}@example.com` });
    await postHogWith(replace, userId, `d_${userId}@example.com`);
    expect(changesOf(await contact(userId))).toEqual([
      { from: `b_${userId}@example.com`, to: `c_${userId}@example.com`, source: "api" },
      { from: `a_${userId}@example.com`, to: `b_${userId}@example.com`, source: "posthog" },
      { from: null, to: `a_${userId}@example.com`, source: "posthog" },
    ]);
  });

  it("ingest with the ingest key changes an address; every change is on the contact, newest first", async () => {
    const userId = unique("api_change");
    await ingest({ event: "profile", userId, userEmail: `a_${userId}@example.com` });
    const first = await ingest({ event: "profile", userId, userEmail: `b_${userId}@example.com` });
    await ingest({ event: "profile", userId, userEmail: `b_${userId}@example.com` }); // same address: no change
    await ingest({ event: "profile", userId }); // no address: keeps it
    const second = await ingest({ event: "profile", userId, userEmail: `c_${userId}@example.com` });
    const after = await contact(userId);
    expect(after.email).toBe(`c_${userId}@example.com`);
    expect(after.emailChanges).toMatchObject([
      { from: `b_${userId}@example.com`, to: `c_${userId}@example.com`, source: "api", eventId: second.eventId },
      { from: `a_${userId}@example.com`, to: `b_${userId}@example.com`, source: "api", eventId: first.eventId },
    ]);
    expect(Date.parse(after.emailChanges[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("one batch changing an address twice records both changes in order", async () => {
    const userId = unique("batch_change");
    await ingest({ event: "profile", userId, userEmail: `a_${userId}@example.com` });
    const res = await call("/v1/ingest/batch", {
      method: "POST",
      headers: ingestAuth(),
      json: {
        events: [
          { event: "profile", userId, userEmail: `b_${userId}@example.com` },
          { event: "profile", userId, userEmail: `c_${userId}@example.com` },
        ],
      },
    });
    expect(res.status).toBe(202);
    expect(changesOf(await contact(userId))).toEqual([
      { from: `b_${userId}@example.com`, to: `c_${userId}@example.com`, source: "batch" },
      { from: `a_${userId}@example.com`, to: `b_${userId}@example.com`, source: "batch" },
    ]);
  });

  it("batch enrollment fills a missing address but never replaces one", async () => {
    const keeps = unique("enroll_keeps");
    const fills = unique("enroll_fills");
    await ingest({ event: "profile", userId: keeps, userEmail: `${keeps}@example.com` });
    await ingest({ event: "profile", userId: fills });
    const res = await adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", {
      users: [
        { userId: keeps, userEmail: `other_${keeps}@example.com` },
        { userId: fills, userEmail: `${fills}@example.com` },
      ],
    });
    expect(res.status).toBe(200);
    expect((await contact(keeps)).email).toBe(`${keeps}@example.com`);
    expect((await contact(keeps)).emailChanges).toEqual([]);
    expect(changesOf(await contact(fills))).toEqual([{ from: null, to: `${fills}@example.com`, source: "enroll" }]);
  });

  it("imports may change an address (recorded as `import`); a late event under onlyIfNewer records nothing it didn't do", async () => {
    const db = createDb(env.DB);
    const userId = unique("import_change");
    await ingest({ event: "profile", userId, userEmail: `a_${userId}@example.com` });
    await runBatch(
      db,
      contactUpsertStatements(db, [{ externalId: userId, email: `b_${userId}@example.com` }], { source: "import" }),
    );
    const late = {
      externalId: userId,
      email: `old_${userId}@example.com`,
      seenAt: new Date(0),
      source: "api" as const,
    };
    await runBatch(db, contactUpsertStatements(db, [late], { onlyIfNewer: true }));
    const after = await contact(userId);
    expect(after.email).toBe(`b_${userId}@example.com`);
    expect(changesOf(after)).toEqual([
      { from: `a_${userId}@example.com`, to: `b_${userId}@example.com`, source: "import" },
    ]);
  });
});
