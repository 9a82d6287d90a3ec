import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { events } from "../src/db/schema";
import worker from "../src/index";
import { processStoredEvents } from "../src/pipeline/ingest";
import {
  anonymousPageview,
  anonymousWithPerson,
  autocapture,
  identify,
  pageview,
  person,
  serverEvent,
  webhook,
} from "./fixtures/posthog";
import { adminGet, adminPost, call, unique, waitForProcessedEvent } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

type Payload = ReturnType<typeof webhook>;
type Answer = Record<string, unknown> & { eventId?: string };

introspectJourneysForFile();

const headers = { "content-type": "application/json", "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET };

/** Buffered (the default): answered after the queue send; resolves once the event is processed. */
async function buffered(body: Payload): Promise<Answer> {
  const res = await call("/v1/webhooks/posthog", { method: "POST", headers, json: body });
  expect(res.status).toBe(202);
  const answer = (await res.json()) as Answer;
  expect(await waitForProcessedEvent(`posthog:${body.event.uuid}`)).toBe(answer.eventId);
  return answer;
}

/** Sync mode, with any settings overridden. */
async function sync(body: unknown, settings: Record<string, string> = {}) {
  const res = await worker.fetch(
    new Request("http://localhost/v1/webhooks/posthog", { method: "POST", headers, body: JSON.stringify(body) }),
    { ...env, POSTHOG_WEBHOOK_MODE: "sync", ...settings },
    createExecutionContext(),
  );
  return { res, answer: (await res.json()) as Answer };
}

const MODES = [
  ["buffered", buffered],
  ["sync", async (body: Payload) => (await sync(body)).answer],
] as const;

const contactOf = async (userId: string) => {
  const res = await adminGet(`/v1/admin/contacts/${encodeURIComponent(userId)}`);
  return res.status === 404
    ? null
    : ((await res.json()) as { email: string | null; properties: Record<string, unknown> });
};
const eventOf = async (eventId: string) =>
  (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as Record<string, unknown> & {
    properties: Record<string, unknown>;
  };
const enrollmentsOf = async (eventId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE trigger_event_id = ?")
    .bind(eventId)
    .first<{ n: number }>())!.n;

describe.each(MODES)("PostHog's person model (%s)", (_mode, send) => {
  it("an $identify gives the contact person properties, never $… keys, the token or raw event properties", async () => {
    const userId = unique("ph_ident");
    const { eventId } = await send(identify(userId, `${userId}@example.com`));
    const contact = await contactOf(userId);
    expect(contact!.properties).toEqual({ name: "Ada Lovelace", plan: "pro", signup_source: "ad" });
    // Event properties stay on the event, for journeys' `where` and replay.
    const event = await eventOf(eventId!);
    expect(event.properties).toMatchObject({ $browser: "Chrome", $current_url: "https://app.example.com/login" });
    expect(event.anonymous).toBe(false);
  });

  it("$set overwrites, $set_once only fills, $unset removes, JSON types kept", async () => {
    const userId = unique("ph_set");
    await send(
      pageview(userId, {
        $set: { plan: "free", company: "Acme" },
        $set_once: { signup_source: "ad", beta: true, tags: ["a", "b"], meta: { seats: 3 }, none: null },
      }),
    );
    await send(
      pageview(userId, {
        $set: { plan: "pro" },
        $set_once: { signup_source: "organic", beta: false, first_paid_plan: "pro" },
        $unset: ["company"],
      }),
    );
    expect((await contactOf(userId))!.properties).toEqual({
      plan: "pro",
      signup_source: "ad",
      beta: true,
      tags: ["a", "b"],
      meta: { seats: 3 },
      first_paid_plan: "pro",
    });
  });

  it("a posthog-node server event with a person counts as the person's", async () => {
    const userId = unique("ph_node");
    const { eventId } = await send(serverEvent(userId, "user:signed_up", { plan: "team" }, { company: "Acme" }));
    expect((await contactOf(userId))!.properties).toEqual({ company: "Acme" });
    expect(await enrollmentsOf(eventId!)).toBe(1);
  });

  it("an anonymous visitor's events are stored, make no contact and enter no journey", async () => {
    for (const body of [
      anonymousPageview(unique("anon"), "user:signed_up"),
      anonymousWithPerson(unique("anon"), "user:signed_up"),
    ]) {
      const answer = await send(body);
      expect(answer.anonymous).toBe(true);
      const event = await eventOf(answer.eventId!);
      expect(event).toMatchObject({ anonymous: true, event: "user:signed_up", properties: { $is_identified: false } });
      expect(event.processedAt).not.toBeNull();
      expect(await contactOf(body.event.distinct_id)).toBeNull();
      expect(await enrollmentsOf(answer.eventId!)).toBe(0);
    }
  });

  it("an $autocapture with 300 raw elements is stored without them, never refused", async () => {
    const userId = unique("ph_auto");
    const body = autocapture(userId);
    expect(JSON.stringify(body.event.properties).length).toBeGreaterThan(64 * 1024);
    const answer = await send(body);
    expect(answer.trimmed).toBeUndefined();
    const event = await eventOf(answer.eventId!);
    expect(event.properties).not.toHaveProperty("$elements");
    expect(event.properties).not.toHaveProperty("$elements_chain");
    // posthog-js's $set copy of browser properties goes too: they are on the event already.
    expect(event.properties).not.toHaveProperty("$set");
    expect(event.properties).toMatchObject({ $event_type: "click", $browser: "Chrome" });
  });

  it("an event still over the cap is stored with its largest properties removed, and the answer says so", async () => {
    const userId = unique("ph_big");
    const body = pageview(userId, { $set: { plan: "pro" } });
    Object.assign(body.event.properties, { transcript: "x".repeat(70 * 1024), notes: "y".repeat(20 * 1024), small: 1 });
    const answer = await send(body);
    expect(answer.trimmed).toEqual(["transcript"]);
    const event = await eventOf(answer.eventId!);
    expect(event.properties).toMatchObject({ small: 1, $trimmed: ["transcript"], notes: "y".repeat(20 * 1024) });
    expect(event.properties).not.toHaveProperty("transcript");
    expect((await contactOf(userId))!.properties).toEqual({ plan: "pro" });
  });
});

describe("PostHog settings and answers", () => {
  it("a sync PostHog event is one D1 round trip, $set_once included", async () => {
    const userId = unique("ph_rt");
    const { res } = await sync(pageview(userId, { $set: { plan: "pro" }, $set_once: { signup_source: "ad" } }));
    expect(res.headers.get("x-d1-round-trips")).toBe("1");
  });

  it("POSTHOG_CONTACT_PROPERTIES lets listed $… keys (and the token) onto contacts", async () => {
    const userId = unique("ph_allow");
    await sync(identify(userId, `${userId}@example.com`), { POSTHOG_CONTACT_PROPERTIES: "$geoip_country_code, token" });
    expect((await contactOf(userId))!.properties).toEqual({
      name: "Ada Lovelace",
      plan: "pro",
      signup_source: "ad",
      $geoip_country_code: "GB",
    });
  });

  it("POSTHOG_ANONYMOUS_EVENTS=contacts treats an unidentified visitor as a person", async () => {
    const anonId = unique("anon_on");
    const { answer } = await sync(anonymousPageview(anonId, "user:signed_up"), {
      POSTHOG_ANONYMOUS_EVENTS: "contacts",
    });
    expect(answer.anonymous).toBeUndefined();
    expect(await contactOf(anonId)).not.toBeNull();
    expect(await enrollmentsOf(answer.eventId!)).toBe(1);
  });

  it("a retried delivery says nothing more than duplicate", async () => {
    const body = anonymousPageview(unique("anon_dup"));
    await buffered(body);
    const again = await call("/v1/webhooks/posthog", { method: "POST", headers, json: body });
    expect(await again.json()).toEqual({ accepted: true, duplicate: true });
  });

  it("replaying an anonymous event routes nothing", async () => {
    const body = anonymousPageview(unique("anon_replay"), "user:signed_up");
    const { answer } = await sync(body);
    const res = await adminPost("/v1/admin/events/replay", { eventIds: [answer.eventId] });
    expect(await res.json()).toMatchObject({ replayed: 1, enrolled: 0 });
    expect(await enrollmentsOf(answer.eventId!)).toBe(0);
  });

  it("self-healing applies a stored event's person update ($set_once included) from its row", async () => {
    const userId = unique("ph_heal");
    await sync(pageview(userId, { $set: { plan: "free" } }));
    const { answer } = await sync(pageview(userId, { $set: { plan: "pro" }, $set_once: { plan: "x", first: 1 } }));
    // As if the processing after the insert had crashed: the row is there, unprocessed, the contact as before.
    await env.DB.prepare("UPDATE events SET processed_at = NULL WHERE id = ?").bind(answer.eventId).run();
    await env.DB.prepare('UPDATE contacts SET properties = \'{"plan":"free"}\' WHERE external_id = ?')
      .bind(userId)
      .run();
    const deps = buildDeps(env);
    const [row] = await deps.db.select().from(events).where(eq(events.id, answer.eventId!));
    expect(row!.contactUpdate).toEqual({ set: { plan: "pro" }, setOnce: { plan: "x", first: 1 } });
    await processStoredEvents(deps.routing, [row!]);
    expect((await contactOf(userId))!.properties).toEqual({ plan: "pro", first: 1 });
  });

  it("a contact over its caps is left alone and the sync answer says so", async () => {
    const userId = unique("ph_full");
    const many = Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`k${i}`, i]));
    await sync(webhook(userId, "seed", { $is_identified: true }, person(userId, many)));
    const { answer } = await sync(pageview(userId, { $set_once: { a: 1, b: 2 } }));
    expect(answer).toMatchObject({ stored: true, contactUpdate: "skipped_properties_limit" });
  });
});
