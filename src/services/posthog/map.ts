import type { ContactUpdate, Properties } from "../../db/schema";
import { PROPERTIES_MAX_BYTES } from "../../lib/properties";
import { claimedAddress, contactUpdateOf, type PersonSettings } from "./person";
import { fitWithin, SET_MAX_BYTES, SET_ONCE_MAX_BYTES, withoutInternals } from "./size";

/** The default body of PostHog's "HTTP Webhook" destination: `{"event": "{event}", "person": "{person}"}`. */
export type PostHogPayload = {
  event: { uuid: string; event: string; distinct_id: string; timestamp?: string; properties?: Properties | null };
  person?: { properties?: Properties | null } | null;
};

export type PostHogSettings = PersonSettings & {
  /** POSTHOG_ANONYMOUS_EVENTS: `store` (default: the event only) or `contacts` (treated as a person). */
  anonymousEvents: "store" | "contacts";
};

/** The key under which a trimmed event lists the properties it lost. */
export const TRIMMED_KEY = "$trimmed";
/** Room kept for that list; it names at most this many bytes of keys. */
const TRIMMED_LIST_BYTES = 1024;

export type MappedPostHogEvent = {
  event: string;
  userId: string;
  userEmail?: string;
  properties: Properties;
  timestamp?: string;
  anonymous: boolean;
  contactUpdate?: ContactUpdate;
  /** Properties removed to fit the caps, beyond the bulky internals always dropped. */
  trimmed: string[];
};

/** Events that name an identified person by definition (the identity issue links the anonymous ids). */
const IDENTIFYING = new Set(["$identify", "$create_alias"]);

/**
 * Whether PostHog hadn't identified the event's person: no person at all, an event captured
 * without a person profile (`$process_person_profile: false`, posthog-js `person_profiles:
 * "identified_only"`), or posthog-js saying the visitor isn't identified (`$is_identified: false`).
 * A server event (posthog-node) with a person is the person's.
 */
export function isAnonymous(payload: PostHogPayload): boolean {
  if (IDENTIFYING.has(payload.event.event)) return false;
  const properties = payload.event.properties ?? {};
  return !payload.person || properties.$process_person_profile === false || properties.$is_identified === false;
}

function listed(keys: string[]): string[] {
  const names: string[] = [];
  let bytes = 2;
  for (const key of keys) {
    bytes += key.length * 3 + 3;
    if (bytes > TRIMMED_LIST_BYTES) break;
    names.push(key);
  }
  return names;
}

/** The event's properties within the per-event caps, and what had to go. */
function eventProperties(raw: Properties) {
  const slim = withoutInternals(raw);
  const fitted = fitWithin(slim, PROPERTIES_MAX_BYTES - TRIMMED_LIST_BYTES - 32);
  if (fitted.removed.length === 0) return fitted;
  return { properties: { ...fitted.properties, [TRIMMED_KEY]: listed(fitted.removed) }, removed: fitted.removed };
}

/**
 * PostHog's shapes → the pipeline's: distinct_id is the user; PostHog's event uuid (namespaced by
 * the caller) the idempotency key; person properties and `$set`/`$set_once`/`$unset` the contact's
 * update; an unidentified visitor's event marked anonymous unless the settings treat it as a person.
 */
export function fromPostHog(payload: PostHogPayload, settings: PostHogSettings): MappedPostHogEvent {
  const raw = payload.event.properties ?? {};
  const { timestamp } = payload.event;
  const anonymous = settings.anonymousEvents === "store" && isAnonymous(payload);
  const { properties, removed } = eventProperties(raw);
  const update = contactUpdateOf(payload.person?.properties, raw, settings);
  const set = fitWithin(update.set, SET_MAX_BYTES);
  const setOnce = fitWithin(update.setOnce, SET_ONCE_MAX_BYTES);
  return {
    event: payload.event.event,
    userId: payload.event.distinct_id,
    userEmail: claimedAddress(payload.person?.properties, raw),
    properties,
    timestamp: timestamp && !Number.isNaN(Date.parse(timestamp)) ? new Date(timestamp).toISOString() : undefined,
    anonymous,
    contactUpdate: { set: set.properties, setOnce: setOnce.properties },
    trimmed: [
      ...removed,
      ...set.removed.map((key) => `$set.${key}`),
      ...setOnce.removed.map((key) => `$set_once.${key}`),
    ],
  };
}
