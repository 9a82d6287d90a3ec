import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { contacts } from "../db/schema";

/** A contact's explicit topic choices as a JSON object text (`{"product-updates":false}`), or null. */
export const TOPIC_CHOICES = sql<string | null>`(SELECT json_group_object(tp.topic_key,
    json(CASE tp.subscribed WHEN 1 THEN 'true' ELSE 'false' END))
  FROM topic_preferences tp WHERE tp.contact_id = ${contacts.id})`.as("topics");

/**
 * The topics some exported contact made a choice on, by key: each gets a CSV column
 * `topic:<key>` (what a mapped import reads back), so an export without choices keeps its shape.
 */
export async function topicColumns(db: Database, where: SQL, limit: number): Promise<string[]> {
  const rows = await db.all<{ key: string }>(
    sql`SELECT DISTINCT tp.topic_key AS key FROM topic_preferences tp
        WHERE tp.contact_id IN (SELECT ${contacts.id} FROM ${contacts} WHERE ${where} ORDER BY ${contacts.id} LIMIT ${limit})
        ORDER BY tp.topic_key`,
  );
  return rows.map((r) => r.key);
}

/** `true`, `false`, or empty (no choice: the topic's default applies). */
export const topicCells = (choices: Record<string, boolean>, topics: string[]) =>
  topics.map((t) => (t in choices ? String(choices[t]) : ""));
