import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { adminGet, call, expectErrorShape, unique, waitForProcessedEvent } from "./helpers";

const postHog = (json: unknown, secret: string | null = env.POSTHOG_WEBHOOK_SECRET) =>
  call("/v1/webhooks/posthog", { method: "POST", json, headers: secret ? { "x-posthog-webhook-secret": secret } : {} });

/** With POSTHOG_WEBHOOK_MODE = "sync": the answer carries the write's outcome. */
const postHogSync = (json: unknown) =>
  worker.fetch(
    new Request("http://localhost/v1/webhooks/posthog", {
      method: "POST",
      headers: { "content-type": "application/json", "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET },
      body: JSON.stringify(json),
    }),
    { ...env, POSTHOG_WEBHOOK_MODE: "sync" },
    createExecutionContext(),
  );

const payload = (distinctId: string, uuid = crypto.randomUUID()) => ({
  event: {
    uuid,
    event: "user:signed_up",
    distinct_id: distinctId,
    timestamp: "2025-01-15T09:30:00.000Z",
    properties: { $browser: "Firefox", plan: "pro" },
  },
  person: { properties: { email: "grace@example.com", name: "Grace" } },
});

describe("POST /v1/webhooks/posthog", () => {
  it("is buffered by default: 202 after a queue send, the event written within seconds", async () => {
    const userId = unique("ph");
    const body = payload(userId);
    const res = await postHog(body);
    expect(res.status).toBe(202);
    const { accepted, eventId } = (await res.json()) as { accepted: boolean; eventId: string };
    expect(accepted).toBe(true);
    expect(await waitForProcessedEvent(`posthog:${body.event.uuid}`)).toBe(eventId);
    // PostHog's retry of a written event: known to the KV fast path, answered as a duplicate.
    expect(await (await postHog(body)).json()).toEqual({ accepted: true, duplicate: true });
  });

  it("maps PostHog's payload onto the pipeline (sync mode)", async () => {
    const userId = unique("ph");
    const res = await postHogSync(payload(userId));
    expect(res.status).toBe(202);
    const { stored, eventId } = (await res.json()) as { stored: boolean; eventId: string };
    expect(stored).toBe(true);
    const event = (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as Record<string, unknown>;
    expect(event).toMatchObject({
      event: "user:signed_up",
      userId,
      userEmail: "grace@example.com",
      source: "posthog",
      occurredAt: "2025-01-15T09:30:00.000Z",
      properties: { $browser: "Firefox", plan: "pro" },
    });
    // The person's properties, not the event's; no address from PostHog by default (POSTHOG_EMAIL_POLICY).
    const contact = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as Record<string, unknown>;
    expect(contact).toMatchObject({ email: null, properties: { name: "Grace" } });
  });

  it("uses PostHog's event uuid as the idempotency key, so retries never double-process", async () => {
    const userId = unique("ph");
    const body = payload(userId);
    await postHogSync(body);
    const retry = await postHogSync(body);
    expect(await retry.json()).toEqual({ stored: false });
    const n = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE idempotency_key = ?")
      .bind(`posthog:${body.event.uuid}`)
      .first<{ n: number }>();
    expect(n!.n).toBe(1);
  });

  it("refuses a missing or wrong secret", async () => {
    await expectErrorShape(await postHog(payload(unique("ph")), null), 401, "UNAUTHORIZED");
    await expectErrorShape(await postHog(payload(unique("ph")), "wrong"), 401, "UNAUTHORIZED");
    // The admin API key is not a PostHog secret.
    await expectErrorShape(await postHog(payload(unique("ph")), env.ADMIN_API_KEY), 401);
  });

  it("validates the payload shape, naming the field", async () => {
    const body = await expectErrorShape(await postHog({ event: { uuid: "x", event: "e" } }), 400, "VALIDATION_ERROR");
    expect(body.error).toContain("distinct_id");
  });

  it("answers a legacy or unknown format with what to configure in PostHog", async () => {
    const action = await expectErrorShape(
      await postHog({ text: "[Ada](https://us.posthog.com/person/1) triggered action [Signed up]" }),
      400,
      "VALIDATION_ERROR",
    );
    expect(action.error).toContain("action webhook");
    const restHook = await expectErrorShape(
      await postHog({
        hook: { id: "abc", event: "action_performed", target: "https://x" },
        data: { event: "signed_up" },
      }),
      400,
      "VALIDATION_ERROR",
    );
    expect(restHook.error).toContain("REST hook");
    const unknown = await expectErrorShape(await postHog({ type: "event", payload: {} }), 400, "VALIDATION_ERROR");
    for (const body of [action, restHook, unknown]) {
      expect(body.error).toContain('"HTTP Webhook" destination');
      expect(body.error).toContain('{"event": "{event}", "person": "{person}"}');
      expect(body.error).toContain("x-posthog-webhook-secret");
    }
    expect(unknown.error).toContain("event");
  });

  it("ignores a person email that isn't an address rather than storing junk", async () => {
    const userId = unique("ph");
    const body = payload(userId);
    body.person.properties.email = "not an email";
    const { eventId } = (await (await postHogSync(body)).json()) as { eventId: string };
    const event = (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as Record<string, unknown>;
    expect(event.userEmail).toBeNull();
  });
});
