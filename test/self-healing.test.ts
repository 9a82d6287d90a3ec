import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, call, ingestAuth, unique } from "./helpers";
import { deliver, runCron } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

/** An event row as a request that crashed right after storing it would leave it: never processed. */
async function strandedEvent(
  event: string,
  userId: string,
  properties: Record<string, unknown>,
  receivedAgoMs: number,
  occurredAt = Date.now() - receivedAgoMs,
) {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO events (id, event, user_id, user_email, properties, source, occurred_at, received_at) VALUES (?, ?, ?, ?, ?, 'api', ?, ?)",
  )
    .bind(
      id,
      event,
      userId,
      `${userId}@example.com`,
      JSON.stringify(properties),
      occurredAt,
      Date.now() - receivedAgoMs,
    )
    .run();
  return id;
}

const processedAt = async (id: string) =>
  (await env.DB.prepare("SELECT processed_at FROM events WHERE id = ?")
    .bind(id)
    .first<{ processed_at: number | null }>())!.processed_at;

describe("scheduled self-healing", () => {
  it("routes events that were stored but never processed, and leaves fresh ones to their request", async () => {
    const userId = unique("stranded");
    const stuck = await strandedEvent("user:signed_up", userId, { plan: "pro" }, 10 * 60_000);
    const fresh = await strandedEvent("user:signed_up", unique("inflight"), {}, 5_000);
    await runCron();

    expect(await processedAt(stuck)).not.toBeNull();
    expect(await processedAt(fresh)).toBeNull();
    const enrollment = await env.DB.prepare("SELECT status, trigger_event_id FROM enrollments WHERE user_id = ?")
      .bind(userId)
      .first();
    expect(enrollment).toMatchObject({ trigger_event_id: stuck });
    expect(await (await adminGet(`/v1/admin/contacts/${userId}`)).json()).toMatchObject({
      email: `${userId}@example.com`,
      properties: { plan: "pro" },
    });

    await runCron();
    const count = await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE user_id = ?")
      .bind(userId)
      .first<{ n: number }>();
    expect(count!.n).toBe(1);
  });

  it("never overwrites a contact with an older stranded event's data", async () => {
    const userId = unique("newer");
    const stuck = await strandedEvent("plan:changed", userId, { plan: "free" }, 10 * 60_000);
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "plan:changed", userId, properties: { plan: "pro" } },
    });
    await runCron();
    expect(await processedAt(stuck)).not.toBeNull();
    expect(
      ((await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { properties: unknown }).properties,
    ).toEqual({ plan: "pro" });
  });
});

describe("dead-letter queues", () => {
  async function deadLetter(queue: string, body: unknown, id = crypto.randomUUID()) {
    return { id, result: await deliver(queue, [{ id, attempts: 6, body }]) };
  }

  it("a dead email send fails the email with its last error and is listed for admins", async () => {
    const emailId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO emails (id, user_id, template_key, props, status, error, created_at, updated_at) VALUES (?, 'u', 'welcome', '{}', 'queued', 'Resend 503: Server error', ?, ?)",
    )
      .bind(emailId, Date.now(), Date.now())
      .run();
    const { id, result } = await deadLetter("hogsend-email-sends-dlq", { emailId });
    expect(result.explicitAcks).toEqual([id]);
    const email = (await (await adminGet(`/v1/admin/emails/${emailId}`)).json()) as { status: string };
    expect(email.status).toBe("failed");

    const listed = (await (await adminGet("/v1/admin/dead-letters?queue=hogsend-email-sends")).json()) as {
      deadLetters: Array<{ messageId: string; subject: string; error: string; attempts: number; body: unknown }>;
    };
    expect(listed.deadLetters.find((d) => d.messageId === id)).toMatchObject({
      subject: `email:${emailId}`,
      attempts: 6,
      error: "Retries exhausted after 6 attempts: Resend 503: Server error",
      body: { emailId },
    });
  });

  it("a dead journey start fails the enrollment that never started, once however often it is delivered", async () => {
    const enrollmentId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO enrollments (id, journey_key, user_id, status, source, enrolled_at, updated_at) VALUES (?, 'activation-welcome', ?, 'active', 'batch', ?, ?)",
    )
      .bind(enrollmentId, unique("dead"), Date.now(), Date.now())
      .run();
    const messageId = crypto.randomUUID();
    await deadLetter("hogsend-journey-starts-dlq", { enrollmentIds: [enrollmentId] }, messageId);
    await deadLetter("hogsend-journey-starts-dlq", { enrollmentIds: [enrollmentId] }, messageId);
    const row = await env.DB.prepare("SELECT status, error FROM enrollments WHERE id = ?").bind(enrollmentId).first();
    expect(row).toMatchObject({ status: "failed", error: expect.stringContaining("Workflow could not be started") });
    const count = await env.DB.prepare("SELECT count(*) AS n FROM dead_letters WHERE message_id = ?")
      .bind(messageId)
      .first<{ n: number }>();
    expect(count!.n).toBe(1);
  });
});
