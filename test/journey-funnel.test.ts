import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet, expectErrorShape, unique } from "./helpers";

const JOURNEY = "cart-recovery";

async function enrollment(status: string, waitingFor: string | null = null) {
  const id = crypto.randomUUID();
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO enrollments (id, journey_key, user_id, status, source, waiting_for, enrolled_at, updated_at) VALUES (?, ?, ?, ?, 'batch', ?, ?, ?)",
  )
    .bind(id, JOURNEY, unique("funnel"), status, waitingFor, now, now)
    .run();
  return id;
}

async function stepEmail(enrollmentId: string, step: string, status: string) {
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, template_key, journey_key, enrollment_id, step_key, props, status, created_at, updated_at) VALUES (?, 'u', ?, ?, ?, ?, '{}', ?, ?, ?)",
  )
    .bind(crypto.randomUUID(), step.split(":")[2], JOURNEY, enrollmentId, step, status, now, now)
    .run();
}

type Funnel = {
  enrolled: number;
  byStatus: Record<string, number>;
  emailSteps: Array<{ step: string; enrollments: number; byStatus: Record<string, number> }>;
  running: Array<{ waitingFor: string | null; status: string; enrollments: number }>;
};

const funnel = async () => (await (await adminGet(`/v1/admin/journeys/${JOURNEY}/funnel`)).json()) as Funnel;

describe("GET /v1/admin/journeys/{key}/funnel", () => {
  it("counts every enrollment, each email step in call order, and where the running ones wait", async () => {
    const before = await funnel();
    const done = await enrollment("completed");
    const waiting = await enrollment("waiting", "order:completed");
    const sleeping = await enrollment("waiting");
    await enrollment("failed");
    // Step 2 and step 10: ordered by their call number, not as text.
    for (const id of [done, waiting, sleeping]) await stepEmail(id, "2:sendEmail:cart-reminder", "sent");
    await stepEmail(done, "10:sendEmail:cart-last-chance", "bounced");

    const after = await funnel();
    expect(after.enrolled - before.enrolled).toBe(4);
    expect(after.byStatus.waiting! - before.byStatus.waiting!).toBe(2);
    const step = (f: Funnel, name: string) => f.emailSteps.find((s) => s.step === name);
    const reminder = step(after, "2:sendEmail:cart-reminder")!;
    expect(reminder.enrollments - (step(before, reminder.step)?.enrollments ?? 0)).toBe(3);
    expect(reminder.byStatus.sent).toBeGreaterThanOrEqual(3);
    expect(step(after, "10:sendEmail:cart-last-chance")?.byStatus.bounced).toBeGreaterThanOrEqual(1);
    const order = after.emailSteps.map((s) => s.step);
    expect(order.indexOf("2:sendEmail:cart-reminder")).toBeLessThan(order.indexOf("10:sendEmail:cart-last-chance"));
    const waitingFor = (f: Funnel, event: string | null) =>
      f.running.find((r) => r.waitingFor === event && r.status === "waiting")?.enrollments ?? 0;
    expect(waitingFor(after, "order:completed") - waitingFor(before, "order:completed")).toBe(1);
    expect(waitingFor(after, null) - waitingFor(before, null)).toBe(1);
  });

  it("answers 404 for a journey that doesn't exist", async () => {
    await expectErrorShape(await adminGet("/v1/admin/journeys/no-such-journey/funnel"), 404, "NOT_FOUND");
  });
});
