import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, call, expectErrorShape, unique } from "./helpers";

const postHog = (json: unknown, secret: string | null = env.POSTHOG_WEBHOOK_SECRET) =>
  call("/v1/webhooks/posthog", { method: "POST", json, headers: secret ? { "x-posthog-webhook-secret": secret } : {} });

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
  it("maps PostHog's payload onto the pipeline", async () => {
    const userId = unique("ph");
    const res = await postHog(payload(userId));
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
    const contact = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as Record<string, unknown>;
    expect(contact).toMatchObject({ email: "grace@example.com", properties: { plan: "pro" } });
  });

  it("uses PostHog's event uuid as the idempotency key, so retries never double-process", async () => {
    const userId = unique("ph");
    const body = payload(userId);
    await postHog(body);
    const retry = await postHog(body);
    expect(await retry.json()).toEqual({ stored: false });
    const n = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE idempotency_key = ?")
      .bind(body.event.uuid)
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

  it("ignores a person email that isn't an address rather than storing junk", async () => {
    const userId = unique("ph");
    const body = payload(userId);
    body.person.properties.email = "not an email";
    const { eventId } = (await (await postHog(body)).json()) as { eventId: string };
    const event = (await (await adminGet(`/v1/admin/events/${eventId}`)).json()) as Record<string, unknown>;
    expect(event.userEmail).toBeNull();
  });
});
