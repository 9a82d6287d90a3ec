import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminGet } from "./helpers";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A known fixture: this file's storage starts empty, so the numbers are exact. */
async function seed() {
  const now = Date.now();
  const contact = (id: string, unsubscribed: boolean) =>
    env.DB.prepare(
      "INSERT INTO contacts (id, external_id, properties, unsubscribed_at, created_at, updated_at) VALUES (?, ?, '{}', ?, ?, ?)",
    ).bind(id, id, unsubscribed ? now : null, now, now);
  const enrollment = (journey: string, status: string) =>
    env.DB.prepare(
      "INSERT INTO enrollments (id, journey_key, user_id, status, source, enrolled_at, updated_at) VALUES (?, ?, ?, ?, 'batch', ?, ?)",
    ).bind(crypto.randomUUID(), journey, crypto.randomUUID(), status, now, now);
  const email = (status: string, sentAgo: number | null, bouncedAgo: number | null = null) =>
    env.DB.prepare(
      "INSERT INTO emails (id, user_id, status, props, sent_at, bounced_at, created_at, updated_at) VALUES (?, 'u', ?, '{}', ?, ?, ?, ?)",
    ).bind(
      crypto.randomUUID(),
      status,
      sentAgo === null ? null : now - sentAgo,
      bouncedAgo === null ? null : now - bouncedAgo,
      now,
      now,
    );
  const job = (status: string, createdAgo: number, finishedAt: number | null, failedRows: number) =>
    env.DB.prepare(
      "INSERT INTO import_jobs (id, status, format, source_key, source_bytes, failed_rows, created_at, finished_at, updated_at) VALUES (?, ?, 'csv', 'k', 1, ?, ?, ?, ?)",
    ).bind(crypto.randomUUID(), status, failedRows, now - createdAgo, finishedAt, now);
  const backfill = (status: string, matched: number) =>
    env.DB.prepare(
      "INSERT INTO backfill_jobs (id, journey_key, status, dry_run, filter, page_size, matched, created_at, updated_at) VALUES (?, 'activation-welcome', ?, 0, '{}', 500, ?, ?, ?)",
    ).bind(crypto.randomUUID(), status, matched, now, now);
  const choice = (contactId: string, topic: string, subscribed: boolean) =>
    env.DB.prepare(
      "INSERT INTO topic_preferences (contact_id, topic_key, subscribed, source, updated_at) VALUES (?, ?, ?, 'admin', ?)",
    ).bind(contactId, topic, subscribed ? 1 : 0, now);
  await env.DB.batch([
    choice("c1", "product-updates", false),
    choice("c2", "product-updates", false),
    choice("c2", "weekly-digest", true),
    choice("c4", "reminders", true),
    backfill("processing", 1500),
    backfill("pending", 0),
    backfill("completed", 9000),
    contact("c1", false),
    contact("c2", false),
    contact("c3", true),
    contact("c4", false),
    enrollment("activation-welcome", "active"),
    enrollment("activation-welcome", "waiting"),
    enrollment("activation-welcome", "completed"),
    enrollment("activation-welcome", "exited"),
    enrollment("cart-recovery", "failed"),
    enrollment("cart-recovery", "completed"),
    email("sent", HOUR),
    email("delivered", 2 * DAY),
    email("bounced", 3 * DAY, 3 * DAY),
    email("sent", 20 * DAY),
    email("sent", 40 * DAY),
    email("failed", null),
    email("queued", null),
    job("processing", 0, null, 3),
    job("pending", 0, null, 0),
    job("completed", 0, now, 7),
    job("completed", 2 * DAY, now - 2 * DAY, 50),
    job("failed", 0, now, 2),
  ]);
}

describe("GET /v1/admin/metrics/overview", () => {
  it("answers zeros, not NaN, when nothing has happened", async () => {
    const body = (await (await adminGet("/v1/admin/metrics/overview")).json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      totalContacts: 0,
      activeEnrollments: 0,
      emailsSent30d: 0,
      bounceRate30d: 0,
      openRate30d: 0,
      clickRate30d: 0,
      unsubscribeRate: 0,
      imports: { running: 0, completedToday: 0, failedRowsToday: 0 },
      backfills: { running: 0, matched: 0 },
      deadLetters: { notRetried: 0 },
    });
  });

  it("counts contacts, enrollments, sends and rates from a known fixture", async () => {
    await seed();
    const body = await (await adminGet("/v1/admin/metrics/overview")).json();
    expect(body).toEqual({
      totalContacts: 4,
      activeEnrollments: 2,
      emailsSent24h: 1,
      emailsSent7d: 3,
      emailsSent30d: 4,
      bounceRate30d: 0.25,
      emailsDelivered30d: 3,
      emailsOpened30d: 0,
      emailsClicked30d: 0,
      openRate30d: 0,
      clickRate30d: 0,
      unsubscribeRate: 0.25,
      journeys: [
        { key: "activation-welcome", enrolled: 4, active: 2, completed: 1, exited: 1, failed: 0 },
        { key: "cart-recovery", enrolled: 2, active: 0, completed: 1, exited: 0, failed: 1 },
        { key: "weekly-digest", enrolled: 0, active: 0, completed: 0, exited: 0, failed: 0 },
      ],
      topics: [
        { key: "onboarding", defaultOptIn: true, optedOut: 0, optedIn: 0 },
        { key: "reminders", defaultOptIn: true, optedOut: 0, optedIn: 1 },
        { key: "product-updates", defaultOptIn: true, optedOut: 2, optedIn: 0 },
        { key: "weekly-digest", defaultOptIn: false, optedOut: 0, optedIn: 1 },
      ],
      imports: { running: 2, completedToday: 1, failedRowsToday: 12 },
      backfills: { running: 2, matched: 1500 },
      deadLetters: { notRetried: 0 },
    });
  });
});
