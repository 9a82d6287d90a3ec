import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, call, expectErrorShape, ingestAuth } from "./helpers";

const TABLES = ["events", "contacts", "enrollments", "emails", "import_jobs"];
const counts = async () =>
  (await env.DB.batch(TABLES.map((t) => env.DB.prepare(`SELECT count(*) AS n FROM ${t}`)))).map(
    (r) => (r.results[0] as { n: number }).n,
  );

const big = (bytes: number) =>
  JSON.stringify({ users: [{ userId: "u", userEmail: "u@example.com", properties: { blob: "x".repeat(bytes) } }] });

describe("request bodies over the limit", () => {
  it.each([
    ["/v1/ingest", ingestAuth, 300 * 1024],
    ["/v1/ingest/batch", ingestAuth, 11 * 1024 * 1024],
    ["/v1/admin/journeys/activation-welcome/enroll/batch", adminAuth, 6 * 1024 * 1024],
    ["/v1/admin/events/replay", adminAuth, 6 * 1024 * 1024],
    ["/v1/admin/emails/resend", adminAuth, 6 * 1024 * 1024],
    ["/v1/admin/contacts/import", adminAuth, 11 * 1024 * 1024],
  ] as const)("%s answers 413 and writes nothing", async (path, auth, bytes) => {
    const before = await counts();
    const res = await call(path, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body: big(bytes),
    });
    await expectErrorShape(res, 413, "PAYLOAD_TOO_LARGE");
    expect(await counts()).toEqual(before);
  });

  it("webhooks refuse oversized bodies too", async () => {
    const posthog = await call("/v1/webhooks/posthog", {
      method: "POST",
      headers: { "x-posthog-webhook-secret": env.POSTHOG_WEBHOOK_SECRET, "content-type": "application/json" },
      body: big(2 * 1024 * 1024),
    });
    await expectErrorShape(posthog, 413);
    const resend = await call("/v1/webhooks/resend", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big(300 * 1024),
    });
    await expectErrorShape(resend, 413);
  });
});
