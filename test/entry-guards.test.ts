import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runPlans } from "../src/db/batch-plan";
import { createDb } from "../src/db/client";
import type { JourneyDefinition } from "../src/journeys/define";
import { enterPlan, previewEntriesPlan } from "../src/services/entry-guards";
import { adminAuth, call, ingestAuth, testJourney, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

type IngestBody = {
  journeys: Array<{ journey: string; enrollmentId: string }>;
  skipped: Array<{ journey: string; reason: string }>;
};

const ingest = async (json: Record<string, unknown>) =>
  (await (await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json })).json()) as IngestBody;
const signUp = (userId: string) => ingest({ event: "user:signed_up", userId, userEmail: `${userId}@example.com` });
const enrollmentCount = async (journey: string, userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE journey_key = ? AND user_id = ?")
    .bind(journey, userId)
    .first<{ n: number }>())!.n;

// Workflows started by these tests just sleep; nothing here waits on them.
introspectJourneysForFile();

describe("entry guards, each with its reason", () => {
  it("already_entered_once: a `once` journey never takes a user twice, even after completing", async () => {
    const userId = unique("once");
    expect((await signUp(userId)).journeys).toHaveLength(1);
    await env.DB.prepare("UPDATE enrollments SET status = 'completed' WHERE user_id = ?").bind(userId).run();
    expect((await signUp(userId)).skipped).toEqual([{ journey: "activation-welcome", reason: "already_entered_once" }]);
    expect(await enrollmentCount("activation-welcome", userId)).toBe(1);
  });

  it("journey_disabled: an admin override stops entries, and clearing it restores them", async () => {
    const patch = (enabled: boolean | null) =>
      call("/v1/admin/journeys/activation-welcome", { method: "PATCH", headers: adminAuth(), json: { enabled } });
    expect(((await (await patch(false)).json()) as { enabled: boolean }).enabled).toBe(false);
    try {
      const userId = unique("disabled");
      expect((await signUp(userId)).skipped).toEqual([{ journey: "activation-welcome", reason: "journey_disabled" }]);
      expect(await enrollmentCount("activation-welcome", userId)).toBe(0);
    } finally {
      const restored = (await (await patch(null)).json()) as { enabled: boolean; enabledOverride: boolean | null };
      expect(restored).toMatchObject({ enabled: true, enabledOverride: null });
    }
    expect((await signUp(unique("reenabled"))).journeys).toHaveLength(1);
  });

  it("trigger_not_matched: the trigger's property conditions must hold", async () => {
    const userId = unique("emptycart");
    const body = await ingest({ event: "cart:abandoned", userId, properties: { cartValue: 0 } });
    expect(body.skipped).toEqual([{ journey: "cart-recovery", reason: "trigger_not_matched" }]);
  });

  it("unsubscribed and suppressed contacts never enter", async () => {
    const unsubscribed = unique("unsub");
    await ingest({ event: "profile", userId: unsubscribed, userEmail: `${unsubscribed}@example.com` });
    await call(`/v1/admin/contacts/${unsubscribed}/preferences`, {
      method: "PUT",
      headers: adminAuth(),
      json: { unsubscribed: true },
    });
    expect((await signUp(unsubscribed)).skipped).toEqual([{ journey: "activation-welcome", reason: "unsubscribed" }]);

    const suppressed = unique("supp");
    await ingest({ event: "profile", userId: suppressed, userEmail: `${suppressed.toUpperCase()}@Example.com` });
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'complaint', ?)")
      .bind(`${suppressed}@example.com`, Date.now())
      .run();
    expect((await signUp(suppressed)).skipped).toEqual([{ journey: "activation-welcome", reason: "suppressed" }]);
  });

  it("period_not_elapsed: `once_per_period` waits out its period", async () => {
    const userId = unique("period");
    const abandon = () => ingest({ event: "cart:abandoned", userId, properties: { cartValue: 10 } });
    expect((await abandon()).journeys).toHaveLength(1);
    await env.DB.prepare("UPDATE enrollments SET status = 'completed' WHERE user_id = ?").bind(userId).run();
    expect((await abandon()).skipped).toEqual([{ journey: "cart-recovery", reason: "period_not_elapsed" }]);
    // Eight days later the period has passed.
    await env.DB.prepare("UPDATE enrollments SET enrolled_at = enrolled_at - ? WHERE user_id = ?")
      .bind(8 * 86_400_000, userId)
      .run();
    expect((await abandon()).journeys).toHaveLength(1);
  });

  it("already_active: a running enrollment keeps a repeatable journey from starting again", async () => {
    const db = createDb(env.DB);
    const repeatable = testJourney({ key: "test-repeatable", entryLimit: "unlimited" });
    const userId = unique("active");
    const decide = async () => {
      const [decisions] = await runPlans(
        db,
        enterPlan(db, repeatable, [{ userId, triggerEventId: null, triggerMatched: true }], { source: "event" }),
      );
      return decisions[0]!;
    };
    expect((await decide()).enrolled).toBe(true);
    expect(await decide()).toMatchObject({ enrolled: false, reason: "already_active" });
    await env.DB.prepare("UPDATE enrollments SET status = 'completed' WHERE user_id = ?").bind(userId).run();
    expect((await decide()).enrolled).toBe(true);
  });

  it("checks the guards in order: disabled before trigger, unsubscribed before entry limits", async () => {
    const db = createDb(env.DB);
    const base = testJourney({ key: "test-order", enabled: false });
    const userId = unique("order");
    const decideWith = async (journey: JourneyDefinition, triggerMatched: boolean) => {
      const [decisions] = await runPlans(
        db,
        previewEntriesPlan(db, journey, [{ userId, triggerEventId: null, triggerMatched }]),
      );
      return decisions[0]!;
    };
    expect(await decideWith(base, false)).toMatchObject({ reason: "journey_disabled" });
    expect(await decideWith({ ...base, enabled: true }, false)).toMatchObject({ reason: "trigger_not_matched" });
    await ingest({ event: "profile", userId });
    await env.DB.prepare("UPDATE contacts SET unsubscribed_at = 1 WHERE external_id = ?").bind(userId).run();
    await env.DB.prepare(
      "INSERT INTO enrollments (id, journey_key, user_id, status, source, enrolled_at, updated_at) VALUES (?, 'test-order', ?, 'completed', 'event', 1, 1)",
    )
      .bind(crypto.randomUUID(), userId)
      .run();
    expect(await decideWith({ ...base, enabled: true }, true)).toMatchObject({ reason: "unsubscribed" });
  });
});

describe("concurrency", () => {
  it("50 concurrent triggers of a `once` journey for one user enroll exactly once", async () => {
    const userId = unique("race");
    const bodies = await Promise.all(Array.from({ length: 50 }, () => signUp(userId)));
    expect(bodies.filter((b) => b.journeys.length === 1)).toHaveLength(1);
    expect(bodies.filter((b) => b.skipped[0]?.reason === "already_entered_once")).toHaveLength(49);
    expect(await enrollmentCount("activation-welcome", userId)).toBe(1);
  });

  it("two sign-ups for one user in one batch enroll once, in order", async () => {
    const userId = unique("batchdup");
    const res = await call("/v1/ingest/batch", {
      method: "POST",
      headers: ingestAuth(),
      json: {
        events: [
          { event: "user:signed_up", userId },
          { event: "user:signed_up", userId },
        ],
      },
    });
    const { results } = (await res.json()) as { results: IngestBody[] };
    expect(results[0]!.journeys).toHaveLength(1);
    expect(results[1]!.skipped).toEqual([{ journey: "activation-welcome", reason: "already_entered_once" }]);
    expect(await enrollmentCount("activation-welcome", userId)).toBe(1);
  });
});
