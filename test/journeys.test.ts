import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, call, ingestAuth, unique } from "./helpers";
import { introspectJourneysPerTest } from "./workflows";

type IngestBody = {
  stored: boolean;
  eventId: string;
  journeys: Array<{ journey: string; enrollmentId: string }>;
  exits: Array<{ journey: string; enrollmentId: string }>;
  skipped: Array<{ journey: string; reason: string }>;
};

const ingest = async (json: Record<string, unknown>) => {
  const res = await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });
  expect(res.status).toBe(202);
  return (await res.json()) as IngestBody;
};

const enrollment = (id: string) =>
  env.DB.prepare("SELECT * FROM enrollments WHERE id = ?").bind(id).first<Record<string, unknown>>();
const emailsOf = async (userId: string) =>
  (
    await env.DB.prepare("SELECT * FROM emails WHERE user_id = ? ORDER BY created_at")
      .bind(userId)
      .all<Record<string, unknown>>()
  ).results;

const workflows = introspectJourneysPerTest();

describe("activation-welcome", () => {
  it("enrolls a new sign-up, sends the welcome email, and sends tips when activation never comes", async () => {
    const wf = await workflows(async (m) => {
      await m.disableSleeps();
      await m.forceEventTimeout({ name: "2:waitForEvent:user:activated" });
    });
    const userId = unique("signup");
    const body = await ingest({
      event: "user:signed_up",
      userId,
      userEmail: `${userId}@example.com`,
      properties: { name: "Ada" },
    });
    expect(body.journeys).toEqual([{ journey: "activation-welcome", enrollmentId: expect.any(String) }]);
    const enrollmentId = body.journeys[0]!.enrollmentId;

    const [instance] = await wf.get();
    await instance!.waitForStatus("complete");

    const sent = await emailsOf(userId);
    expect(sent.map((e) => [e.template_key, e.status])).toEqual([
      ["welcome", "sent"],
      ["activation-tips", "sent"],
    ]);
    expect(sent[0]!.to_address).toBe(`${userId}@example.com`);
    expect(sent[0]!.html).toContain("Welcome, Ada!");
    expect(JSON.parse(sent[0]!.props as string)).toEqual({ name: "Ada" });
    expect(await enrollment(enrollmentId)).toMatchObject({ status: "completed", journey_key: "activation-welcome" });
  });
});

describe("waiting for events", () => {
  it("delivers an ingested event to a journey waiting for it, so no tips are sent", async () => {
    const wf = await workflows();
    const userId = unique("activates");
    const body = await ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` });
    const enrollmentId = body.journeys[0]!.enrollmentId;
    const [instance] = await wf.get();
    await instance!.waitForStepResult({ name: "2:waitForEvent:user:activated:begin" });
    expect(await enrollment(enrollmentId)).toMatchObject({ status: "waiting", waiting_for: "user:activated" });

    await ingest({ event: "user:activated", userId });
    await instance!.waitForStatus("complete");
    expect((await emailsOf(userId)).map((e) => e.template_key)).toEqual(["welcome"]);
    expect(await enrollment(enrollmentId)).toMatchObject({ status: "completed", waiting_for: null });
  });

  it("counts an event that arrived before the wait began", async () => {
    const wf = await workflows(async (m) => {
      await m.mockStepResult(
        { name: "1:sendEmail:welcome" },
        JSON.stringify({ running: true, emailId: null, status: "sent" }),
      );
    });
    const userId = unique("early");
    const body = await ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` });
    await ingest({ event: "user:activated", userId });
    const [instance] = await wf.get();
    await instance!.waitForStatus("complete");
    expect(await emailsOf(userId)).toEqual([]);
    expect((await enrollment(body.journeys[0]!.enrollmentId))!.status).toBe("completed");
  });
});

describe("exits", () => {
  it("exits on the journey's exit event during a sleep, stops the workflow, and sends nothing more", async () => {
    const wf = await workflows();
    const userId = unique("cart");
    const body = await ingest({
      event: "cart:abandoned",
      userId,
      userEmail: `${userId}@example.com`,
      properties: { cartValue: 42 },
    });
    expect(body.journeys).toEqual([{ journey: "cart-recovery", enrollmentId: expect.any(String) }]);
    const enrollmentId = body.journeys[0]!.enrollmentId;
    const [instance] = await wf.get();
    await instance!.waitForStepResult({ name: "1:sleep:1 hour:begin" });

    const exit = await ingest({ event: "order:completed", userId });
    expect(exit.exits).toEqual([{ journey: "cart-recovery", enrollmentId }]);
    await instance!.waitForStatus("terminated");
    expect(await enrollment(enrollmentId)).toMatchObject({
      status: "exited",
      exit_reason: "event:order:completed",
      exit_event_id: exit.eventId,
    });
    expect(await emailsOf(userId)).toEqual([]);
  });

  it("never sends from a step already in flight when the enrollment has exited", async () => {
    const wf = await workflows(async (m) => {
      await m.disableSleeps();
    });
    const userId = unique("inflight");
    const body = await ingest({
      event: "cart:abandoned",
      userId,
      userEmail: `${userId}@example.com`,
      properties: { cartValue: 5 },
    });
    const enrollmentId = body.journeys[0]!.enrollmentId;
    // Exit in D1 only (as if the terminate call was lost): the send step must still refuse.
    await env.DB.prepare("UPDATE enrollments SET status = 'exited' WHERE id = ?").bind(enrollmentId).run();
    const [instance] = await wf.get();
    await instance!.waitForStatus("complete");
    expect(await emailsOf(userId)).toEqual([]);
    expect((await enrollment(enrollmentId))!.status).toBe("exited");
  });
});

describe("sending", () => {
  it("sends exactly one email when the send step fails twice before succeeding", async () => {
    const wf = await workflows(async (m) => {
      await m.disableSleeps();
      await m.disableRetryDelays();
      await m.mockStepError({ name: "1:sendEmail:welcome" }, new Error("provider timeout"), 2);
      await m.forceEventTimeout({ name: "2:waitForEvent:user:activated" });
    });
    const userId = unique("retry");
    await ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` });
    const [instance] = await wf.get();
    await instance!.waitForStatus("complete");
    const sent = await emailsOf(userId);
    expect(sent.filter((e) => e.template_key === "welcome")).toHaveLength(1);
    expect(sent.every((e) => e.status === "sent")).toBe(true);
  });

  it("ends the enrollment failed, with the error, when a step keeps failing", async () => {
    const wf = await workflows(async (m) => {
      await m.disableRetryDelays();
      await m.mockStepError({ name: "1:sendEmail:welcome" }, new Error("provider down"), 10);
    });
    const userId = unique("fails");
    const body = await ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` });
    const [instance] = await wf.get();
    await instance!.waitForStatus("errored");
    expect(await enrollment(body.journeys[0]!.enrollmentId)).toMatchObject({
      status: "failed",
      error: "provider down",
    });
    const listed = (await (
      await adminGet("/v1/admin/journeys/activation-welcome/enrollments?status=failed")
    ).json()) as {
      enrollments: Array<{ id: string; error: string }>;
    };
    expect(listed.enrollments.find((e) => e.id === body.journeys[0]!.enrollmentId)?.error).toBe("provider down");
  });

  it("marks an email suppressed, not sent, when the address was suppressed after entry", async () => {
    const wf = await workflows(async (m) => {
      await m.disableSleeps();
    });
    const userId = unique("supp");
    const email = `${userId}@example.com`;
    await ingest({ event: "cart:abandoned", userId, userEmail: email, properties: { cartValue: 9 } });
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(email, Date.now())
      .run();
    const [instance] = await wf.get();
    await instance!.waitForStatus("complete");
    const [row] = await emailsOf(userId);
    expect(row).toMatchObject({ status: "suppressed", error: "Address suppressed: hard_bounce", provider: null });
  });
});
