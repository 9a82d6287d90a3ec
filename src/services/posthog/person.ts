import { z } from "zod";
import type { ContactUpdate, Properties } from "../../db/schema";

/** What a PostHog event may put on its contact (POSTHOG_CONTACT_PROPERTIES lists the exceptions). */
export type PersonSettings = { contactKeys: ReadonlySet<string> };

const isObject = (value: unknown): value is Properties =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * PostHog's own `$…` keys (browser, session, geo, initial referrer…) and the project `token` stay
 * off contacts unless listed; `email` is the address, which POSTHOG_EMAIL_POLICY governs.
 */
const keptOnContact = (key: string, settings: PersonSettings) =>
  settings.contactKeys.has(key) || (!key.startsWith("$") && key !== "token" && key !== "email");

const pick = (value: unknown, settings: PersonSettings): Properties =>
  isObject(value) ? Object.fromEntries(Object.entries(value).filter(([key]) => keptOnContact(key, settings))) : {};

/** `$unset` is a list of keys (posthog-js, posthog-node); an object's keys are taken too. */
const unsetKeys = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.filter((key): key is string => typeof key === "string")
    : isObject(value)
      ? Object.keys(value)
      : [];

/**
 * PostHog's person model as a contact update: `person.properties` (the person as PostHog has it
 * after this event) and the event's `$set` overwrite, `$set_once` only fills, `$unset` removes (a
 * null in `set`). Event properties stay on the event.
 */
export function contactUpdateOf(
  personProperties: unknown,
  eventProperties: Properties,
  settings: PersonSettings,
): ContactUpdate {
  const set: Properties = { ...pick(personProperties, settings), ...pick(eventProperties.$set, settings) };
  for (const key of unsetKeys(eventProperties.$unset)) if (keptOnContact(key, settings)) set[key] = null;
  return { set, setOnce: pick(eventProperties.$set_once, settings) };
}

const emailOf = (value: unknown) => (isObject(value) && typeof value.email === "string" ? value.email : undefined);

/** The address the event claims for its person, when it is one: the person's, else `$set`'s, else `$set_once`'s. */
export function claimedAddress(personProperties: unknown, eventProperties: Properties): string | undefined {
  const email = emailOf(personProperties) ?? emailOf(eventProperties.$set) ?? emailOf(eventProperties.$set_once);
  return email && z.email().safeParse(email).success ? email : undefined;
}
