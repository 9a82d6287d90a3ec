import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { buildDeps } from "../src/composition";
import { createDb } from "../src/db/client";
import { countRoundTrips, newRoundTripCounter } from "../src/db/round-trips";
import { ingestWithinBudget, SYNC_STATEMENTS_PER_REQUEST } from "../src/pipeline/ingest-buffer";
import { call, ingestAuth, unique } from "./helpers";

type Result = { index: number; stored?: boolean; accepted?: boolean; eventId?: string };

const storedEventsOf = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM events WHERE user_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("a synchronous batch past one request's D1 statement budget", () => {
  it("writes what fits in order, queues the rest (accepted), and loses nothing: 500 events of one person", async () => {
    const userId = unique("budget");
    const events = Array.from({ length: 500 }, (_, i) => ({ event: "page:viewed", userId, properties: { i } }));
    const res = await call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: { events } });
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as { results: Result[] };
    const stored = results.filter((r) => r.stored);
    const accepted = results.filter((r) => r.accepted);
    expect(stored.length + accepted.length).toBe(500);
    expect(stored.length).toBeGreaterThan(400); // about 2 statements an event: ~440 of 500 fit
    expect(accepted.length).toBeGreaterThan(0);
    // In order: the stored ones lead.
    expect(stored.map((r) => r.index)).toEqual(Array.from({ length: stored.length }, (_, i) => i));
    await vi.waitFor(async () => expect(await storedEventsOf(userId)).toBe(500), { timeout: 20_000, interval: 250 });
  });

  it("spends at most the budget's statements in the request", async () => {
    const counter = newRoundTripCounter();
    const deps = buildDeps(env, { db: createDb(countRoundTrips(env.DB, counter)) });
    const userId = unique("budget_two");
    const events = Array.from({ length: 500 }, (_, i) => ({ event: "page:viewed", userId, properties: { i } }));
    const results = await ingestWithinBudget(deps.ingest, events, "batch");
    expect(results).toHaveLength(500);
    expect(counter.statements).toBeLessThanOrEqual(SYNC_STATEMENTS_PER_REQUEST);
  });

  it("exits are set-based: 500 people's user:deleted is written whole, in a few dozen statements", async () => {
    const counter = newRoundTripCounter();
    const deps = buildDeps(env, { db: createDb(countRoundTrips(env.DB, counter)) });
    const exits = Array.from({ length: 500 }, (_, i) => ({ event: "user:deleted", userId: unique(`gone${i}`) }));
    const results = await ingestWithinBudget(deps.ingest, exits, "batch");
    expect(results.every((r) => "stored" in r && r.stored)).toBe(true);
    // An exit statement per event and journey made this 1,586.
    expect(counter.statements).toBeLessThan(100);
  });

  it("a person's first exit event of a batch ends the enrollment and is named; the second ends nothing", async () => {
    const userId = unique("exit_twice");
    const signup = await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "user:signed_up", userId, userEmail: `${userId}@example.com` },
    });
    expect(signup.status).toBe(202);
    const res = await call("/v1/ingest/batch", {
      method: "POST",
      headers: ingestAuth(),
      json: {
        events: [
          { event: "user:deleted", userId },
          { event: "user:deleted", userId },
        ],
      },
    });
    const { results } = (await res.json()) as {
      results: Array<{ eventId: string; exits: Array<{ journey: string; enrollmentId: string }> }>;
    };
    expect(results[0]!.exits.map((e) => e.journey)).toEqual(["activation-welcome"]);
    expect(results[1]!.exits).toEqual([]);
    const row = await env.DB.prepare("SELECT status, exit_reason, exit_event_id FROM enrollments WHERE id = ?")
      .bind(results[0]!.exits[0]!.enrollmentId)
      .first();
    expect(row).toEqual({ status: "exited", exit_reason: "event:user:deleted", exit_event_id: results[0]!.eventId });
  });
});
