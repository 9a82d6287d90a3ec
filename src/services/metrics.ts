import { sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { contacts, deadLetters, emails, importJobs } from "../db/schema";
import { journeys } from "../journeys/registry";
import { runningBackfillsStatement } from "./backfills/jobs";
import { engagementColumns, withRates } from "./engagement-metrics";
import { countByJourneyStatusStatement, countsByJourney, noEnrollments } from "./enrollments";
import { perTopic, type TopicCountRows, topicCountsStatement } from "./topic-metrics";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const rate = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

function journeyCounts(rows: Parameters<typeof countsByJourney>[0]) {
  const counts = countsByJourney(rows);
  return journeys.map((journey) => {
    const c = counts.get(journey.key) ?? noEnrollments();
    return {
      key: journey.key,
      enrolled: c.active + c.waiting + c.completed + c.exited + c.failed,
      active: c.active + c.waiting,
      completed: c.completed,
      exited: c.exited,
      failed: c.failed,
    };
  });
}

const emailStatsStatement = (db: Database, now: number) =>
  db
    .select({
      sent24h: sql<number>`coalesce(sum(${emails.sentAt} >= ${now - DAY}), 0)`.as("sent24h"),
      sent7d: sql<number>`coalesce(sum(${emails.sentAt} >= ${now - 7 * DAY}), 0)`.as("sent7d"),
      sent30d: sql<number>`coalesce(sum(${emails.sentAt} >= ${now - 30 * DAY}), 0)`.as("sent30d"),
      bounced30d: sql<number>`coalesce(sum(${emails.bouncedAt} >= ${now - 30 * DAY}), 0)`.as("bounced30d"),
      delivered30d: sql<number>`coalesce(sum(${engagementColumns.delivered}), 0)`.as("delivered30d"),
      opened30d: sql<number>`coalesce(sum(${engagementColumns.opened}), 0)`.as("opened30d"),
      clicked30d: sql<number>`coalesce(sum(${engagementColumns.clicked}), 0)`.as("clicked30d"),
    })
    // Aliased: D1 returns rows keyed by column name, and unaliased twins would collide.
    .from(emails)
    .where(sql`${emails.sentAt} >= ${now - 30 * DAY}`);

/** Human opens and clicks of the emails sent in the last 30 days, over those delivered. */
function engagement30d(stats: { sent30d: number; delivered30d: number; opened30d: number; clicked30d: number }) {
  const counts = withRates({
    sent: stats.sent30d,
    delivered: stats.delivered30d,
    opened: stats.opened30d,
    clicked: stats.clicked30d,
  });
  return {
    emailsDelivered30d: counts.delivered,
    emailsOpened30d: counts.opened,
    emailsClicked30d: counts.clicked,
    openRate30d: counts.openRate,
    clickRate30d: counts.clickRate,
  };
}

/** Import jobs running, completed today, and the failed rows of today's jobs. */
function importStatsStatement(db: Database, startOfDay: number) {
  return db
    .select({
      running: sql<number>`coalesce(sum(${importJobs.status} IN ('pending', 'processing')), 0)`.as("running"),
      completedToday:
        sql<number>`coalesce(sum(${importJobs.status} = 'completed' AND ${importJobs.finishedAt} >= ${startOfDay}), 0)`.as(
          "completed_today",
        ),
      failedRowsToday:
        sql<number>`coalesce(sum(CASE WHEN ${importJobs.createdAt} >= ${startOfDay} THEN ${importJobs.failedRows} ELSE 0 END), 0)`.as(
          "failed_rows_today",
        ),
    })
    .from(importJobs);
}

const deadLettersStatement = (db: Database) =>
  db
    .select({ notRetried: sql<number>`coalesce(sum(${deadLetters.retriedAt} IS NULL), 0)`.as("not_retried") })
    .from(deadLetters);

/** The numbers a team checks after a migration or an incident, in one D1 round trip. "Today" is since 00:00 UTC. */
export async function metricsOverview(db: Database, now = Date.now()) {
  const startOfDay = new Date(now).setUTCHours(0, 0, 0, 0);
  const [contactRows, emailRows, enrollmentRows, importRows, backfillRows, topicRows, deadLetterRows] = (await runBatch(
    db,
    [
      db
        .select({
          total: sql<number>`count(*)`.as("total"),
          unsubscribed: sql<number>`coalesce(sum(${contacts.unsubscribedAt} IS NOT NULL), 0)`.as("unsubscribed"),
        })
        .from(contacts),
      emailStatsStatement(db, now),
      countByJourneyStatusStatement(db),
      importStatsStatement(db, startOfDay),
      runningBackfillsStatement(db),
      topicCountsStatement(db),
      deadLettersStatement(db),
    ],
  )) as [
    Array<{ total: number; unsubscribed: number }>,
    Array<{
      sent24h: number;
      sent7d: number;
      sent30d: number;
      bounced30d: number;
      delivered30d: number;
      opened30d: number;
      clicked30d: number;
    }>,
    Parameters<typeof countsByJourney>[0],
    Array<{ running: number; completedToday: number; failedRowsToday: number }>,
    Array<{ running: number; matched: number }>,
    TopicCountRows,
    Array<{ notRetried: number }>,
  ];

  const contactStats = contactRows[0]!;
  const emailStats = emailRows[0]!;
  const perJourney = journeyCounts(enrollmentRows);
  return {
    totalContacts: contactStats.total,
    activeEnrollments: perJourney.reduce((n, j) => n + j.active, 0),
    emailsSent24h: emailStats.sent24h,
    emailsSent7d: emailStats.sent7d,
    emailsSent30d: emailStats.sent30d,
    bounceRate30d: rate(emailStats.bounced30d, emailStats.sent30d),
    ...engagement30d(emailStats),
    unsubscribeRate: rate(contactStats.unsubscribed, contactStats.total),
    journeys: perJourney,
    topics: perTopic(topicRows),
    imports: importRows[0]!,
    backfills: backfillRows[0]!,
    deadLetters: deadLetterRows[0]!,
  };
}
