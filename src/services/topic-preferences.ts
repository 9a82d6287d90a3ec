import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { topicPreferences } from "../db/schema";
import { isSubscribed } from "../emails/topic";
import { getTopic, topics } from "../emails/topics";

/** Who set a topic choice: the person on the preference page or by one-click, an admin, an import. */
export type TopicSource = "preference_page" | "one_click" | "admin" | "import";

export type TopicState = {
  key: string;
  name: string;
  description: string;
  defaultOptIn: boolean;
  /** Whether the contact gets this topic's emails now. */
  subscribed: boolean;
  /** The contact's explicit choice, or null when the default applies. */
  choice: boolean | null;
  updatedAt: Date | null;
};

/** Every topic with the contact's state, in the registry's order. */
export async function topicStates(db: Database, contactId: string): Promise<TopicState[]> {
  const rows = await db.select().from(topicPreferences).where(eq(topicPreferences.contactId, contactId));
  const byTopic = new Map(rows.map((r) => [r.topicKey, r]));
  return topics.map((topic) => {
    const row = byTopic.get(topic.key);
    const choice = row ? row.subscribed : null;
    return {
      key: topic.key,
      name: topic.name,
      description: topic.description,
      defaultOptIn: topic.defaultOptIn,
      subscribed: isSubscribed(topic, choice),
      choice,
      updatedAt: row?.updatedAt ?? null,
    };
  });
}

/** Upserts of the contact's choices (unknown topic keys → 400 naming the key), for a batch. */
export function setTopicStatements(
  db: Database,
  contactId: string,
  choices: Record<string, boolean>,
  source: TopicSource,
  now = new Date(),
) {
  return Object.entries(choices).map(([key, subscribed]) => {
    getTopic(key, `topics.${key}`);
    return db
      .insert(topicPreferences)
      .values({ contactId, topicKey: key, subscribed, source, updatedAt: now })
      .onConflictDoUpdate({
        target: [topicPreferences.contactId, topicPreferences.topicKey],
        set: { subscribed, source, updatedAt: now },
        // Unchanged choices keep the time and source of the decision.
        setWhere: sql`${topicPreferences.subscribed} <> ${subscribed ? 1 : 0}`,
      });
  });
}

/**
 * SQL that holds when the contact (`contactId`: SQL naming its id) has opted out of `topicKey`:
 * an explicit no, or, for an opt-in topic, no explicit yes.
 */
export function topicOptedOutSql(contactId: SQL, topicKey: string): SQL {
  const topic = getTopic(topicKey);
  const choice = sql`(SELECT tp.subscribed FROM topic_preferences tp WHERE tp.contact_id = ${contactId} AND tp.topic_key = ${topicKey})`;
  return topic.defaultOptIn ? sql`coalesce(${choice}, 1) = 0` : sql`coalesce(${choice}, 0) = 0`;
}

/** Whether the contact gets the topic's emails now (journeys branch on it; the send step checks it). */
export async function subscribedTo(db: Database, contactId: string, topicKey: string): Promise<boolean> {
  const topic = getTopic(topicKey);
  const [row] = await db
    .select({ subscribed: topicPreferences.subscribed })
    .from(topicPreferences)
    .where(and(eq(topicPreferences.contactId, contactId), eq(topicPreferences.topicKey, topicKey)))
    .limit(1);
  return isSubscribed(topic, row ? row.subscribed : null);
}

/** `subscribedTo` for a user id (externalId), as journeys know it; an unsubscribed contact gets no topic. */
export async function userSubscribedTo(db: Database, userId: string, topicKey: string): Promise<boolean> {
  const topic = getTopic(topicKey);
  const [row] = await db.all<{ unsubscribed: number; choice: number | null }>(
    sql`SELECT c.unsubscribed_at IS NOT NULL AS unsubscribed,
        (SELECT tp.subscribed FROM topic_preferences tp WHERE tp.contact_id = c.id AND tp.topic_key = ${topicKey}) AS choice
      FROM contacts c WHERE c.external_id = ${userId} LIMIT 1`,
  );
  if (!row || row.unsubscribed) return false;
  return isSubscribed(topic, row.choice === null ? null : row.choice === 1);
}
