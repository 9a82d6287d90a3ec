import { sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { findTopic } from "../../emails/topics";
import { parseBoolean } from "./convert";
import type { ValidRow } from "./duplicates";
import { jsonParamChunks } from "./json-params";

/** Other tools' words for a subscription state, beside the booleans `parseBoolean` reads. */
const WORDS: Record<string, boolean> = {
  subscribed: true,
  "opted in": true,
  opted_in: true,
  unsubscribed: false,
  "opted out": false,
  opted_out: false,
};

/** A `topic:<key>` cell → subscribed or not; an unknown topic or unreadable value fails the row, naming the column. */
export function convertTopicChoice(
  column: string,
  topicKey: string,
  value: unknown,
): { subscribed: boolean } | { error: string } {
  if (!findTopic(topicKey)) return { error: `${column}: unknown topic "${topicKey}"` };
  const flag = parseBoolean(value) ?? (typeof value === "string" ? WORDS[value.trim().toLowerCase()] : undefined);
  return flag === undefined ? { error: `${column}: not a subscription state (yes/no)` } : { subscribed: flag };
}

/**
 * The chunk's topic choices, after its contact upserts in the same batch. Like every import
 * opt-out they only add: a no always lands, a yes never lifts an earlier no.
 */
export function topicChoiceStatements(db: Database, valid: ValidRow[], now: Date) {
  const choices = valid.flatMap((r) =>
    Object.entries(("optOut" in r ? r.optOut?.topics : undefined) ?? {}).map(([topic, yes]) => [
      r.contact.externalId,
      topic,
      yes ? 1 : 0,
    ]),
  );
  return jsonParamChunks(choices).map((rows) =>
    db.run(sql`INSERT INTO topic_preferences (contact_id, topic_key, subscribed, source, updated_at)
      SELECT c.id, json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), 'import', ${now.getTime()}
      FROM json_each(${rows}) AS j JOIN contacts c ON c.external_id = json_extract(j.value, '$[0]')
      WHERE true
      ON CONFLICT (contact_id, topic_key) DO UPDATE SET subscribed = 0, source = 'import', updated_at = excluded.updated_at
        WHERE excluded.subscribed = 0 AND topic_preferences.subscribed = 1`),
  );
}
