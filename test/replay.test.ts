import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const ingest = async (json: Record<string, unknown>) =>
  (await (await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json })).json()) as {
    eventId: string;
    journeys: unknown[];
  };
const setEnabled = (enabled: boolean | null) =>
  call("/v1/admin/journeys/activation-welcome", { method: "PATCH", headers: adminAuth(), json: { enabled } });
const replay = (json: unknown) => adminPost("/v1/admin/events/replay", json);
const enrollments = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE user_id = ?").bind(userId).first<{ n: number }>())!
    .n;

/** Sign-ups stored while the journey was off: the "added a new journey, backfill it" case. */
async function missedSignups(count: number, tag = unique("missed")) {
  await setEnabled(false);
  try {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(
        (
          await ingest({
            event: "user:signed_up",
            userId: `${tag}_${i}`,
            timestamp: `2025-01-0${1 + (i % 9)}T00:00:00Z`,
          })
        ).eventId,
      );
    return { ids, tag };
  } finally {
    await setEnabled(null);
  }
}

describe("POST /v1/admin/events/replay", () => {
  it("replays by ids through the entry guards, reusing the stored rows", async () => {
    const { ids, tag } = await missedSignups(2);
    const res = await replay({ eventIds: ids });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: 2, enrolled: 2, exits: 0, errors: [] });
    expect(await enrollments(`${tag}_0`)).toBe(1);

    // A second replay enrolls nobody new: `once` keeps them out.
    expect(await (await replay({ eventIds: ids })).json()).toEqual({ replayed: 2, enrolled: 0, exits: 0, errors: [] });

    const event = (await (await adminGet(`/v1/admin/events/${ids[0]}`)).json()) as Record<string, unknown>;
    expect(event).toMatchObject({ replayCount: 2, occurredAt: "2025-01-01T00:00:00.000Z" });
    expect(event.lastReplayedAt).not.toBeNull();
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE user_id LIKE ?")
      .bind(`${tag}_%`)
      .first<{ n: number }>();
    expect(rows!.n).toBe(2);
  });

  it("reports unknown ids as errors and replays the rest", async () => {
    const { ids } = await missedSignups(1);
    const missing = crypto.randomUUID();
    expect(await (await replay({ eventIds: [missing, ids[0]] })).json()).toEqual({
      replayed: 1,
      enrolled: 1,
      exits: 0,
      errors: [{ eventId: missing, error: "Event not found" }],
    });
  });

  it("replays by filter: event, user and occurrence range", async () => {
    const { tag } = await missedSignups(3);
    const body = await (
      await replay({
        filter: {
          event: "user:signed_up",
          userId: `${tag}_1`,
          from: "2025-01-01T00:00:00Z",
          to: "2025-01-31T00:00:00Z",
        },
      })
    ).json();
    expect(body).toEqual({ replayed: 1, enrolled: 1, exits: 0, errors: [] });
    expect(await enrollments(`${tag}_1`)).toBe(1);
    expect(await enrollments(`${tag}_0`)).toBe(0);
  });

  it("runs exit checks: a replayed exit event ends the running enrollment", async () => {
    const userId = unique("exit");
    await ingest({ event: "user:signed_up", userId });
    const { eventId } = await ingest({ event: "user:deleted", userId });
    const again = unique("exit2");
    await ingest({ event: "user:signed_up", userId: again });
    await env.DB.prepare("UPDATE events SET user_id = ? WHERE id = ?").bind(again, eventId).run();
    expect(await (await replay({ eventIds: [eventId] })).json()).toMatchObject({ replayed: 1, exits: 1 });
  });

  it("never rewrites the contact with an old event's data", async () => {
    const userId = unique("fresh");
    const { eventId } = await ingest({
      event: "plan:changed",
      userId,
      userEmail: "old@example.com",
      properties: { plan: "free" },
    });
    await ingest({ event: "plan:changed", userId, userEmail: "new@example.com", properties: { plan: "pro" } });
    await replay({ eventIds: [eventId] });
    expect(await (await adminGet(`/v1/admin/contacts/${userId}`)).json()).toMatchObject({
      email: "new@example.com",
      properties: { plan: "pro" },
    });
  });

  it("dry run: says what would happen per event and changes nothing", async () => {
    const { ids, tag } = await missedSignups(2);
    await replay({ eventIds: [ids[1]] });
    const res = await replay({ eventIds: ids, dryRun: true });
    expect(await res.json()).toEqual({
      results: [
        { eventId: ids[0], journeys: [{ key: "activation-welcome", outcome: "would_enroll" }], exits: [] },
        { eventId: ids[1], journeys: [{ key: "activation-welcome", outcome: "already_entered_once" }], exits: [] },
      ],
      errors: [],
    });
    expect(await enrollments(`${tag}_0`)).toBe(0);
    const event = (await (await adminGet(`/v1/admin/events/${ids[0]}`)).json()) as { replayCount: number };
    expect(event.replayCount).toBe(0);
  });

  it("dry run tells the truth about one user's two sign-ups, as the real run then does", async () => {
    const userId = unique("twice");
    await setEnabled(false);
    const first = await ingest({ event: "user:signed_up", userId });
    const second = await ingest({ event: "user:signed_up", userId });
    await setEnabled(null);
    const ids = [first.eventId, second.eventId];
    const preview = (await (await replay({ eventIds: ids, dryRun: true })).json()) as {
      results: Array<{ journeys: Array<{ outcome: string }> }>;
    };
    expect(preview.results.map((r) => r.journeys[0]!.outcome)).toEqual(["would_enroll", "already_entered_once"]);
    expect(await (await replay({ eventIds: ids })).json()).toMatchObject({ replayed: 2, enrolled: 1 });
  });

  it("starts the workflows of a large replay through the journey-start queue", async () => {
    const { ids, tag } = await missedSignups(12);
    expect(await (await replay({ eventIds: ids })).json()).toMatchObject({ enrolled: 12 });
    const { results } = await env.DB.prepare("SELECT id FROM enrollments WHERE user_id LIKE ?")
      .bind(`${tag}_%`)
      .all<{ id: string }>();
    expect(results).toHaveLength(12);
    const started = async (id: string) =>
      env.JOURNEY_WORKFLOW.get(id).then(
        () => true,
        () => false,
      );
    for (let i = 0; i < 100 && !(await Promise.all(results.map((r) => started(r.id)))).every(Boolean); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await Promise.all(results.map((r) => started(r.id)))).toEqual(results.map(() => true));
  });

  it("keeps D1 round trips constant in the number of events", async () => {
    const small = await missedSignups(5);
    const large = await missedSignups(120);
    const trips = async (ids: string[]) =>
      Number((await replay({ eventIds: ids, limit: 1000 })).headers.get("x-d1-round-trips"));
    const [a, b] = [await trips(small.ids), await trips(large.ids)];
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a);
  });

  it("validates: exactly one of eventIds and filter, limit at most 1000", async () => {
    expect((await expectErrorShape(await replay({}), 400, "VALIDATION_ERROR")).error).toContain("eventIds or filter");
    await expectErrorShape(await replay({ eventIds: ["a"], filter: {} }), 400, "VALIDATION_ERROR");
    expect((await expectErrorShape(await replay({ filter: {}, limit: 1001 }), 400)).error).toContain("limit");
    await expectErrorShape(await replay({ eventIds: Array.from({ length: 1001 }, (_, i) => `e${i}`) }), 400);
    await expectErrorShape(await replay({ filter: { from: "last week" } }), 400);
    await expectErrorShape(await replay({ eventIds: "abc" }), 400);
  });
});
