import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";

describe("POST /v1/webhooks/posthog without POSTHOG_WEBHOOK_SECRET", () => {
  it("refuses every request instead of being open", async () => {
    const request = new Request("http://localhost/v1/webhooks/posthog", {
      method: "POST",
      headers: { "content-type": "application/json", "x-posthog-webhook-secret": "" },
      body: JSON.stringify({ event: { uuid: "u", event: "e", distinct_id: "d" } }),
    });
    const res = await worker.fetch(request, { ...env, POSTHOG_WEBHOOK_SECRET: "" }, createExecutionContext());
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe("UNAUTHORIZED");
    expect(body.error).toContain("POSTHOG_WEBHOOK_SECRET");
  });
});
