import { AppError } from "../lib/errors";
import { defineTopic, type TopicDefinition } from "./topic";

const all = [
  defineTopic({
    key: "onboarding",
    name: "Getting started",
    description: "A welcome and tips while you set up your account.",
    defaultOptIn: true,
  }),
  defineTopic({
    key: "reminders",
    name: "Reminders",
    description: "Nudges about things you started, like a cart you left.",
    defaultOptIn: true,
  }),
  defineTopic({
    key: "product-updates",
    name: "Product updates",
    description: "New features and improvements, at most once a month.",
    defaultOptIn: true,
  }),
  defineTopic({
    key: "weekly-digest",
    name: "Weekly digest",
    description: "A summary of your week's activity, every Monday. Only if you ask for it.",
    defaultOptIn: false,
  }),
] as const;

export type TopicKey = (typeof all)[number]["key"];

/** Every topic, in the order the preference page lists them. Add a definition here to ship it. */
export const topics: readonly TopicDefinition[] = all;

const byKey = new Map<string, TopicDefinition>(topics.map((t) => [t.key, t]));
if (byKey.size !== topics.length) throw new Error("Two topics share a key");

export const findTopic = (key: string): TopicDefinition | undefined => byKey.get(key);

export function getTopic(key: string, field = "topic"): TopicDefinition {
  const topic = byKey.get(key);
  if (!topic) throw new AppError("VALIDATION_ERROR", `${field}: unknown topic "${key}"`);
  return topic;
}
