import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QUEUES } from "../src/lib/queues";
import { adminAuth, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { deliver } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Result = { userId: string; enrolled: boolean; reason?: string; enrollmentId?: string };
type Body = { enrolled: number; skipped: number; results: Result[] };

const enroll = (journey: string, json: unknown) => adminPost(`/v1/admin/journeys/${journey}/enroll/batch`, json);
const user = (userId: string, properties?: Record<string, unknown>) => ({
  userId,
  userEmail: `${userId}@example.com`,
  properties,
});
const enrollmentsOf = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE user_id = ?").bind(userId).first<{ n: number }>())!
    .n;

describe("POST /v1/admin/journeys/:key/enroll/batch", () => {
  it("upserts contacts, enrolls who passes, and says why the others were skipped", async () => {
    const tag = unique("be");
    const [fresh, again, unsub, supp] = ["fresh", "again", "unsub", "supp"].map((n) => `${tag}_${n}`) as [
      string,
      string,
      string,
      string,
    ];
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "user:signed_up", userId: again },
    });
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "profile", userId: unsub } });
    await call(`/v1/admin/contacts/${unsub}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { unsubscribed: true },
    });
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(`${supp}@example.com`, Date.now())
      .run();

    const res = await enroll("activation-welcome", {
      users: [user(fresh, { source: "migration" }), user(again), user(unsub), user(supp), user(fresh)],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Body;
    expect(body.enrolled).toBe(1);
    expect(body.skipped).toBe(4);
    expect(body.results.map(({ userId, enrolled, reason }) => ({ userId, enrolled, reason }))).toEqual([
      { userId: fresh, enrolled: true, reason: undefined },
      { userId: again, enrolled: false, reason: "already_entered_once" },
      { userId: unsub, enrolled: false, reason: "unsubscribed" },
      { userId: supp, enrolled: false, reason: "suppressed" },
      { userId: fresh, enrolled: false, reason: "already_entered_once" },
    ]);
    expect(await enrollmentsOf(fresh)).toBe(1);
    const contact = await env.DB.prepare("SELECT email, properties FROM contacts WHERE external_id = ?")
      .bind(fresh)
      .first<{ email: string; properties: string }>();
    expect(contact).toEqual({ email: `${fresh}@example.com`, properties: JSON.stringify({ source: "migration" }) });
    const row = await env.DB.prepare("SELECT source, status FROM enrollments WHERE id = ?")
      .bind(body.results[0]!.enrollmentId)
      .first();
    expect(row).toEqual({ source: "batch", status: "active" });
  });

  it("checks trigger conditions against the given properties, and the entry period", async () => {
    const tag = unique("cart");
    const res = await enroll("cart-recovery", {
      users: [user(`${tag}_a`, { cartValue: 20 }), user(`${tag}_b`, { cartValue: 0 }), user(`${tag}_c`)],
    });
    const body = (await res.json()) as Body;
    expect(body.results.map((r) => r.reason ?? "enrolled")).toEqual([
      "enrolled",
      "trigger_not_matched",
      "trigger_not_matched",
    ]);
    await env.DB.prepare("UPDATE enrollments SET status = 'completed' WHERE user_id = ?").bind(`${tag}_a`).run();
    const again = (await (
      await enroll("cart-recovery", { users: [user(`${tag}_a`, { cartValue: 20 })] })
    ).json()) as Body;
    expect(again.results[0]!.reason).toBe("period_not_elapsed");
  });

  it("reports journey_disabled while an admin has the journey off", async () => {
    await call("/v1/admin/journeys/cart-recovery", { method: "PATCH", headers: adminAuth(), json: { enabled: false } });
    try {
      const body = (await (
        await enroll("cart-recovery", { users: [user(unique("off"), { cartValue: 5 })] })
      ).json()) as Body;
      expect(body.results[0]!.reason).toBe("journey_disabled");
    } finally {
      await call("/v1/admin/journeys/cart-recovery", {
        method: "PATCH",
        headers: adminAuth(),
        json: { enabled: null },
      });
    }
  });

  it("dry run answers the same shape and writes nothing", async () => {
    const userId = unique("dry");
    const body = (await (
      await enroll("activation-welcome", { users: [user(userId), user(userId)], dryRun: true })
    ).json()) as Body;
    expect(body).toEqual({
      enrolled: 1,
      skipped: 1,
      results: [
        { userId, enrolled: true },
        { userId, enrolled: false, reason: "already_entered_once" },
      ],
    });
    expect(await enrollmentsOf(userId)).toBe(0);
    expect(await env.DB.prepare("SELECT 1 FROM contacts WHERE external_id = ?").bind(userId).first()).toBeNull();
  });

  it("takes 500 users with the same number of D1 round trips as 5", async () => {
    const trips = async (count: number) => {
      const tag = unique("size");
      const res = await enroll("activation-welcome", {
        users: Array.from({ length: count }, (_, i) => user(`${tag}_${i}`)),
      });
      expect(((await res.json()) as Body).enrolled).toBe(count);
      return Number(res.headers.get("x-d1-round-trips"));
    };
    const small = await trips(5);
    expect(await trips(500)).toBe(small);
  });

  it("rejects 501 users, an empty list, bad emails, and unknown journeys", async () => {
    const many = Array.from({ length: 501 }, (_, i) => user(`u${i}`));
    expect(
      (await expectErrorShape(await enroll("activation-welcome", { users: many }), 400, "VALIDATION_ERROR")).error,
    ).toContain("users");
    await expectErrorShape(await enroll("activation-welcome", { users: [] }), 400);
    const badEmail = await enroll("activation-welcome", { users: [{ userId: "u", userEmail: "nope" }] });
    expect((await expectErrorShape(badEmail, 400)).error).toContain("users.0.userEmail");
    await expectErrorShape(await enroll("no-such-journey", { users: [user("u")] }), 404, "NOT_FOUND");
  });
});

describe("journey-start queue consumer", () => {
  it("creates the workflow instances, and treats already-existing ones as started", async () => {
    const body = (await (await enroll("activation-welcome", { users: [user(unique("q"))] })).json()) as Body;
    const enrollmentId = body.results[0]!.enrollmentId!;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const result = await deliver(QUEUES.journeyStarts.name, [
        { id: `m${attempt}`, attempts: attempt, body: { enrollmentIds: [enrollmentId] } },
      ]);
      expect(result.explicitAcks).toEqual([`m${attempt}`]);
      expect(result.retryMessages).toEqual([]);
    }
    const instance = await env.JOURNEY_WORKFLOW.get(enrollmentId);
    expect(["queued", "running", "waiting", "complete"]).toContain((await instance.status()).status);
  });
});
