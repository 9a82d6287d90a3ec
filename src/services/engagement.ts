import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, type Properties } from "../db/schema";
import { sha256 } from "../lib/sha256";
import { BURST_WINDOW_MS, classifyHit, type Verdict } from "./engagement-machine";

/** One request to a tracking link, as verified: the token says which email and which target. */
export type EngagementHit = {
  kind: "open" | "click";
  emailId: string;
  url: string | null;
  userAgent: string | null;
  ip: string | null;
  at: Date;
  /** TRACKING_SCANNER_RANGES: the operator's list of scanner networks. */
  scannerRanges?: readonly string[];
};

export const ENGAGEMENT_EVENTS = { open: "email:opened", click: "email:clicked" } as const;

/**
 * The reserved idempotency-key namespace of engagement events. The first open and each distinct
 * link's first click count once per email, humans and machines apart (a prefetch must not hide
 * the reader's open); the events' unique index decides, in the insert itself.
 */
export const ENGAGEMENT_KEY_PREFIX = "engagement:";

/** A machine's open or click (stored `anonymous`, under the reserved key prefix), as SQL on `events`. */
export const machineEngagement = sql`(${events.anonymous} = 1 AND coalesce(${events.idempotencyKey}, '') >= ${ENGAGEMENT_KEY_PREFIX}
  AND coalesce(${events.idempotencyKey}, '') < ${`${ENGAGEMENT_KEY_PREFIX}\uffff`})`;

async function engagementKey(hit: EngagementHit, machine: boolean) {
  const who = machine ? "m" : "h";
  if (hit.kind === "open") return `${ENGAGEMENT_KEY_PREFIX}${hit.emailId}:open:${who}`;
  const link = (await sha256(hit.url ?? "")).slice("sha256:".length, "sha256:".length + 32);
  return `${ENGAGEMENT_KEY_PREFIX}${hit.emailId}:click:${who}:${link}`;
}

type EngagedEmail = {
  user_id: string;
  journey_key: string | null;
  template_key: string | null;
  delivered_at: number | null;
  recent_clicks: number;
};

/**
 * The email a hit is about, with what classification needs (delivery time, other links clicked
 * just before), in one read; null when it no longer exists (erased) or was never sent.
 */
async function engagedEmail(db: Database, hit: EngagementHit): Promise<EngagedEmail | null> {
  const clicks = `${ENGAGEMENT_KEY_PREFIX}${hit.emailId}:click:`;
  // A range on the unique index of idempotency keys: this email's clicks, machine or human.
  const [row] = await db.all<EngagedEmail>(sql`SELECT user_id, journey_key, template_key,
      coalesce(sent_at, delivered_at) AS delivered_at,
      (SELECT count(*) FROM events WHERE idempotency_key >= ${clicks} AND idempotency_key < ${`${clicks}\uffff`}
        AND occurred_at >= ${hit.at.getTime() - BURST_WINDOW_MS}
        AND json_extract(properties, '$.url') IS NOT ${hit.url}) AS recent_clicks
    FROM emails WHERE id = ${hit.emailId} AND sent_at IS NOT NULL`);
  return row ?? null;
}

export type EngagementEvent = {
  event: (typeof ENGAGEMENT_EVENTS)[keyof typeof ENGAGEMENT_EVENTS];
  userId: string;
  properties: Properties;
  idempotencyKey: string;
  occurredAt: Date;
  verdict: Verdict;
};

/** The contact event a hit becomes (one D1 read), or null when its email is gone. */
export async function engagementEvent(db: Database, hit: EngagementHit): Promise<EngagementEvent | null> {
  const email = await engagedEmail(db, hit);
  if (!email) return null;
  const verdict = classifyHit({
    kind: hit.kind,
    userAgent: hit.userAgent,
    ip: hit.ip,
    scannerRanges: hit.scannerRanges ?? [],
    at: hit.at,
    deliveredAt: email.delivered_at,
    recentOtherClicks: email.recent_clicks,
  });
  return {
    event: ENGAGEMENT_EVENTS[hit.kind],
    userId: email.user_id,
    properties: {
      emailId: hit.emailId,
      journey: email.journey_key,
      template: email.template_key,
      ...(hit.kind === "click" ? { url: hit.url } : {}),
      machine: verdict.machine,
      ...(verdict.machine ? { machineReason: verdict.reason } : {}),
    },
    idempotencyKey: await engagementKey(hit, verdict.machine),
    occurredAt: hit.at,
    verdict,
  };
}
