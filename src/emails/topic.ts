/** A kind of email a person can opt in to or out of, defined in code like a journey. */
export type TopicDefinition<K extends string = string> = {
  key: K;
  name: string;
  description: string;
  /**
   * true: an opt-out topic (sent unless the person said no). false: an opt-in topic (sent only
   * after an explicit yes).
   */
  defaultOptIn: boolean;
};

const KEY_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function defineTopic<const K extends string>(topic: TopicDefinition<K>): TopicDefinition<K> {
  if (!KEY_PATTERN.test(topic.key))
    throw new Error(`topic "${topic.key}": key must be lowercase letters, digits and dashes`);
  if (!topic.name) throw new Error(`topic "${topic.key}": name is required`);
  return topic;
}

/** Whether a contact with this explicit choice (null: none) gets the topic's emails. */
export const isSubscribed = (topic: TopicDefinition, choice: boolean | null) => choice ?? topic.defaultOptIn;
