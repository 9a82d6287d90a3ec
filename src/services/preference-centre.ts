import { eq } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { contacts } from "../db/schema";
import { findTopic, topics } from "../emails/topics";
import { unsubscribeContact } from "./preferences";
import { setTopicStatements, type TopicSource, type TopicState, topicStates } from "./topic-preferences";

/** What the preference page shows: whether the person left everything, and each topic's state. */
export type PreferenceCentre = { unsubscribed: boolean; topics: TopicState[] };

/** The page's state for the link's contact, or null when the contact no longer exists. */
export async function loadPreferenceCentre(db: Database, contactId: string): Promise<PreferenceCentre | null> {
  const [contact] = await db
    .select({ unsubscribedAt: contacts.unsubscribedAt })
    .from(contacts)
    .where(eq(contacts.id, contactId))
    .limit(1);
  if (!contact) return null;
  return { unsubscribed: contact.unsubscribedAt !== null, topics: await topicStates(db, contactId) };
}

/**
 * Saves the page's form: every topic is set, subscribed exactly when its box was ticked (an
 * unticked checkbox sends nothing). Unknown keys (a topic removed from code) are ignored.
 */
export async function savePreferenceCentre(db: Database, contactId: string, ticked: string[]) {
  const chosen = new Set(ticked);
  const choices = Object.fromEntries(topics.map((t) => [t.key, chosen.has(t.key)]));
  await runBatch(db, setTopicStatements(db, contactId, choices, "preference_page"));
  return loadPreferenceCentre(db, contactId);
}

/**
 * One-click (RFC 8058): leaves the email's topic, or everything when the link names none (or a
 * topic no longer defined). Idempotent. Returns the topic left (null: everything), or undefined
 * for an unknown contact.
 */
export async function oneClickUnsubscribe(
  db: Database,
  contactId: string,
  topicKey: string | null,
  source: TopicSource = "one_click",
): Promise<{ topic: TopicState | null } | undefined> {
  const topic = topicKey ? findTopic(topicKey) : undefined;
  if (!topic) return (await unsubscribeContact(db, contactId)) ? { topic: null } : undefined;
  const centre = await loadPreferenceCentre(db, contactId);
  if (!centre) return undefined;
  await runBatch(db, setTopicStatements(db, contactId, { [topic.key]: false }, source));
  return { topic: { ...centre.topics.find((t) => t.key === topic.key)!, subscribed: false, choice: false } };
}
