import type { Properties } from "../../db/schema";
import { PROPERTIES_MAX_BYTES, PROPERTIES_MAX_DEPTH, PROPERTIES_MAX_KEYS } from "../../lib/properties";

/** Autocapture's element tree: PostHog keeps it as the event's `elements_chain` too, and no journey reads it. */
const BULKY_KEYS = ["$elements", "$elements_chain"];
const PERSON_COPIES = ["$set", "$set_once"];

/** The bytes a contact update may take in a queued event (with the event's ≤ 64 KB, under the 128 KB message cap). */
export const SET_MAX_BYTES = 24 * 1024;
export const SET_ONCE_MAX_BYTES = 8 * 1024;

const utf8Bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value) ?? "").length;

/**
 * An event's properties without PostHog's bulky internals: `$elements`, `$elements_chain`, and the
 * `$…` browser properties posthog-js copies into `$set`/`$set_once` (they are on the event itself).
 */
export function withoutInternals(properties: Properties): Properties {
  const slim: Properties = {};
  for (const [key, value] of Object.entries(properties)) {
    if (BULKY_KEYS.includes(key)) continue;
    if (PERSON_COPIES.includes(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      const own = Object.entries(value).filter(([inner]) => !inner.startsWith("$"));
      if (own.length > 0) slim[key] = Object.fromEntries(own);
      continue;
    }
    slim[key] = value;
  }
  return slim;
}

function depth(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  let deepest = 0;
  for (const child of children) {
    deepest = Math.max(deepest, depth(child));
    if (deepest >= PROPERTIES_MAX_DEPTH) break;
  }
  return deepest + 1;
}

/**
 * Properties within the per-write caps (`maxBytes` of JSON, the key and depth caps), by removing
 * whole top-level keys: any nested too deep, then the largest first. Returns what was removed.
 */
export function fitWithin(properties: Properties, maxBytes = PROPERTIES_MAX_BYTES) {
  let total = utf8Bytes(properties);
  const entries = Object.entries(properties);
  if (total <= maxBytes && entries.length <= PROPERTIES_MAX_KEYS && depth(properties) <= PROPERTIES_MAX_DEPTH) {
    return { properties, removed: [] as string[] };
  }
  const removed = new Set<string>();
  for (const [key, value] of entries) {
    if (depth(value) + 1 > PROPERTIES_MAX_DEPTH) {
      removed.add(key);
      total -= utf8Bytes(key) + utf8Bytes(value) + 2;
    }
  }
  const bySize = entries
    .filter(([key]) => !removed.has(key))
    .map(([key, value]) => ({ key, bytes: utf8Bytes(key) + utf8Bytes(value) + 2 }))
    .sort((a, b) => b.bytes - a.bytes);
  for (const { key, bytes } of bySize) {
    if (total <= maxBytes && entries.length - removed.size <= PROPERTIES_MAX_KEYS) break;
    removed.add(key);
    total -= bytes;
  }
  return {
    properties: Object.fromEntries(entries.filter(([key]) => !removed.has(key))),
    removed: [...removed],
  };
}
