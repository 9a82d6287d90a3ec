import type { Properties } from "../db/schema";
import type { TemplateKey } from "../emails/registry";
import { templates } from "../emails/registry";
import { findTopic, type TopicKey } from "../emails/topics";
import { CONDITION_OPS, type Condition, type EventMatcher } from "./conditions";
import { type Duration, durationMs } from "./duration";

export type JourneyUser = { userId: string; email: string | null; properties: Properties };

export type ReceivedEvent = { eventId: string; event: string; properties: Properties; occurredAt: string };

export type SendEmailResult = { emailId: string | null; status: string };

/** What a journey's `run` can do; every call is one named, deterministic workflow step. */
export interface JourneyContext {
  sendEmail(options: { template: TemplateKey; props?: Properties }): Promise<SendEmailResult>;
  sleep(duration: Duration): Promise<void>;
  /** The event, or null when the timeout passes first. */
  waitForEvent(event: string, options: { timeout: Duration }): Promise<ReceivedEvent | null>;
  /** Whether the user did `event` since entering this journey. */
  hasDoneEvent(event: string): Promise<boolean>;
  /** Whether the user gets `topic`'s emails now (not unsubscribed, the topic's choice or default). */
  isSubscribed(topic: TopicKey): Promise<boolean>;
}

export type EntryLimit = "once" | "once_per_period" | "unlimited";

export type JourneyDefinition = {
  key: string;
  name: string;
  description: string;
  enabled: boolean;
  trigger: EventMatcher;
  entryLimit: EntryLimit;
  /** Required with `once_per_period`: how long after an entry the user may enter again. */
  entryPeriod?: Duration;
  exitOn: EventMatcher[];
  run: (user: JourneyUser, ctx: JourneyContext) => Promise<void>;
};

const KEY_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

function validateConditions(where: Condition[] | undefined, at: string) {
  for (const condition of where ?? []) {
    if (!CONDITION_OPS.includes(condition.op)) throw new Error(`${at}: unknown condition op "${condition.op}"`);
    if (!condition.property) throw new Error(`${at}: condition without a property`);
    const needsValue = condition.op !== "exists" && condition.op !== "not_exists";
    if (needsValue && condition.value === undefined) throw new Error(`${at}: "${condition.op}" needs a value`);
  }
}

/** Throws at start-up (and in tests) on a definition that could only fail later, mid-journey. */
export function validateJourney(def: JourneyDefinition): void {
  const at = `journey "${def.key}"`;
  if (!KEY_PATTERN.test(def.key)) throw new Error(`${at}: key must be lowercase letters, digits and dashes`);
  if (!def.trigger.event) throw new Error(`${at}: trigger.event is required`);
  validateConditions(def.trigger.where, `${at} trigger`);
  for (const [i, exit] of def.exitOn.entries()) validateConditions(exit.where, `${at} exitOn[${i}]`);
  if (def.entryLimit === "once_per_period") {
    if (!def.entryPeriod) throw new Error(`${at}: entryLimit "once_per_period" needs an entryPeriod`);
    durationMs(def.entryPeriod);
  } else if (def.entryPeriod) {
    throw new Error(`${at}: entryPeriod only applies to entryLimit "once_per_period"`);
  }
}

/** Validates every call a journey makes (templates exist, durations parse) as `run` reaches it. */
export function validateCall(kind: "sendEmail" | "sleep" | "waitForEvent" | "isSubscribed", arg: string): void {
  if (kind === "sendEmail" && !templates.has(arg)) throw new Error(`unknown email template "${arg}"`);
  else if (kind === "isSubscribed" && !findTopic(arg)) throw new Error(`unknown topic "${arg}"`);
  else if (kind === "sleep" || kind === "waitForEvent") durationMs(arg);
}

export function defineJourney(def: JourneyDefinition): JourneyDefinition {
  validateJourney(def);
  return def;
}
