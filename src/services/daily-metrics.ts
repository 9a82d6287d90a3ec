import { and, count, gte, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { emails, events } from "../db/schema";

const DAY_MS = 86_400_000;

export type DailyCounts = {
  /** UTC days, oldest first, `days` of them ending today. */
  days: string[];
  events: number[];
  emails: number[];
  /** Emails created in the window, by status. */
  emailsByStatus: Record<string, number>;
};

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Events (by occurrence) and emails (by creation) per UTC day, and emails by status, over the last
 * `days` days: the console's overview charts. Range scans on events_occurred_idx and
 * emails_status_created_idx.
 */
export async function dailyCounts(db: Database, days = 14, now = Date.now()): Promise<DailyCounts> {
  const start = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
  const eventDay = sql<string>`date(${events.occurredAt} / 1000, 'unixepoch')`;
  const emailDay = sql<string>`date(${emails.createdAt} / 1000, 'unixepoch')`;
  const [eventRows, emailRows] = await Promise.all([
    db
      .select({ day: eventDay, n: count() })
      .from(events)
      .where(gte(events.occurredAt, new Date(start)))
      .groupBy(eventDay),
    db
      .select({ day: emailDay, status: emails.status, n: count() })
      .from(emails)
      .where(and(gte(emails.createdAt, new Date(start))))
      .groupBy(emailDay, emails.status),
  ]);
  const labels = Array.from({ length: days }, (_, i) => utcDay(start + i * DAY_MS));
  const eventsByDay = new Map(eventRows.map((row) => [row.day, row.n]));
  const emailsByDay = new Map<string, number>();
  const emailsByStatus: Record<string, number> = {};
  for (const row of emailRows) {
    emailsByDay.set(row.day, (emailsByDay.get(row.day) ?? 0) + row.n);
    emailsByStatus[row.status] = (emailsByStatus[row.status] ?? 0) + row.n;
  }
  return {
    days: labels,
    events: labels.map((day) => eventsByDay.get(day) ?? 0),
    emails: labels.map((day) => emailsByDay.get(day) ?? 0),
    emailsByStatus,
  };
}
