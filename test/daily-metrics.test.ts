import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { dailyCounts } from "../src/services/daily-metrics";
import { unique } from "./helpers";

const DAY = 86_400_000;

async function eventAt(occurredAt: number) {
  await env.DB.prepare(
    "INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at) VALUES (?, 'page:viewed', ?, '{}', 'api', ?, ?)",
  )
    .bind(crypto.randomUUID(), unique("daily"), occurredAt, Date.now())
    .run();
}

describe("the console's per-day counts", () => {
  it("count today live and take the days before from the cache (a fresh cache, or none, counts them)", async () => {
    const db = createDb(env.DB);
    const now = Date.now();
    const cache = await caches.open(unique("daily-metrics"));
    const first = await dailyCounts(db, { now, cache });
    expect(first.days).toHaveLength(14);
    await eventAt(now - DAY); // yesterday: a history import, say
    await eventAt(now); // today

    const cached = await dailyCounts(db, { now, cache });
    expect(cached.events.at(-1)).toBe(first.events.at(-1)! + 1);
    expect(cached.events.at(-2)).toBe(first.events.at(-2));

    const live = await dailyCounts(db, { now });
    expect(live.events.at(-2)).toBe(first.events.at(-2)! + 1);
    const fresh = await dailyCounts(db, { now, cache: await caches.open(unique("daily-metrics")) });
    expect(fresh.events).toEqual(live.events);
  });
});
