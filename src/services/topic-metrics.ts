import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { topics } from "../emails/topics";

export type TopicCountRows = Array<{ topic: string; optedOut: number; optedIn: number }>;

/** Explicit choices per topic (one statement for the overview's batch). */
export const topicCountsStatement = (db: Database) =>
  db.all(sql`SELECT topic_key AS topic, coalesce(sum(subscribed = 0), 0) AS optedOut,
      coalesce(sum(subscribed = 1), 0) AS optedIn
    FROM topic_preferences GROUP BY topic_key`);

/** Every topic in the registry's order, with its opt-outs and opt-ins (0 when nobody chose). */
export function perTopic(rows: TopicCountRows) {
  const byTopic = new Map(rows.map((r) => [r.topic, r]));
  return topics.map((t) => ({
    key: t.key,
    defaultOptIn: t.defaultOptIn,
    optedOut: byTopic.get(t.key)?.optedOut ?? 0,
    optedIn: byTopic.get(t.key)?.optedIn ?? 0,
  }));
}
