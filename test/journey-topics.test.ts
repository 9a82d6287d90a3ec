import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, call, ingestAuth, unique } from "./helpers";
import { introspectJourneysPerTest } from "./workflows";

const workflows = introspectJourneysPerTest();

const emailsOf = async (userId: string) =>
  (
    await env.DB.prepare("SELECT template_key, status FROM emails WHERE user_id = ? ORDER BY created_at")
      .bind(userId)
      .all<{ template_key: string; status: string }>()
  ).results;

async function digestReady(userId: string) {
  const res = await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "digest:ready", userId, userEmail: `${userId}@example.com`, properties: { eventsThisWeek: 12 } },
  });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { journeys: Array<{ journey: string }> };
  expect(body.journeys.map((j) => j.journey)).toEqual(["weekly-digest"]);
}

describe("journeys branch on a topic preference", () => {
  it("the weekly digest goes only to those who opted in to its topic, and leaves no row for the rest", async () => {
    const wf = await workflows();
    const quiet = unique("digest_no");
    await digestReady(quiet);
    const [first] = await wf.get();
    await first!.waitForStatus("complete");
    expect(await emailsOf(quiet)).toEqual([]);

    const keen = unique("digest_yes");
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "profile", userId: keen, userEmail: `${keen}@example.com` },
    });
    const put = await call(`/v1/admin/contacts/${keen}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { topics: { "weekly-digest": true } },
    });
    expect(put.status).toBe(200);
    await digestReady(keen);
    const instances = await wf.get();
    await instances.at(-1)!.waitForStatus("complete");
    expect(await emailsOf(keen)).toEqual([{ template_key: "weekly-digest", status: "sent" }]);
  });
});
