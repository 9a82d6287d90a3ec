import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { emails } from "../db/schema";
import { ENGAGEMENT_KEY_PREFIX } from "./engagement";

const DAY = 24 * 3_600_000;
const rate = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/**
 * Per sent email, as SQL: delivered (sent and not bounced or failed since), opened and clicked by
 * a person (machine traffic has its own keys). Each is a lookup on the events' unique index of
 * idempotency keys: no scan of the events.
 */
const keyOf = (suffix: string) => sql`${ENGAGEMENT_KEY_PREFIX} || ${emails.id} || ${suffix}`;
export const engagementColumns = {
  delivered: sql`${emails.status} IN ('sent', 'delivered', 'complained')`,
  opened: sql`EXISTS (SELECT 1 FROM events ev WHERE ev.idempotency_key = ${keyOf(":open:h")})`,
  clicked: sql`EXISTS (SELECT 1 FROM events ev WHERE ev.idempotency_key >= ${keyOf(":click:h:")}
    AND ev.idempotency_key < ${keyOf(":click:h;")})`,
} satisfies Record<string, SQL>;

export type EngagementCounts = { sent: number; delivered: number; opened: number; clicked: number };

/** Counts with their rates: opened and clicked over delivered. */
export const withRates = <T extends EngagementCounts>(counts: T) => ({
  ...counts,
  openRate: rate(counts.opened, counts.delivered),
  clickRate: rate(counts.clicked, counts.delivered),
});

export type EngagementRow = EngagementCounts & { journey: string | null; template: string | null };

/** Emails sent in the last `days`, per journey and template (transactional emails: journey null). */
export async function engagementBreakdown(db: Database, days: number, now = Date.now()) {
  const since = now - days * DAY;
  const rows =
    await db.all<EngagementRow>(sql`SELECT ${emails.journeyKey} AS journey, ${emails.templateKey} AS template,
      count(*) AS sent, coalesce(sum(${engagementColumns.delivered}), 0) AS delivered,
      coalesce(sum(${engagementColumns.opened}), 0) AS opened, coalesce(sum(${engagementColumns.clicked}), 0) AS clicked
    FROM ${emails} WHERE ${emails.sentAt} >= ${since}
    GROUP BY ${emails.journeyKey}, ${emails.templateKey} ORDER BY sent DESC, journey, template`);
  return { days, since: new Date(since).toISOString(), rows: rows.map(withRates) };
}
