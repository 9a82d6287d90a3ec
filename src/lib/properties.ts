/**
 * Caps on free-form properties wherever they come in (ingest, batch, PostHog, import rows, batch
 * enrollment, replay). SQLite's JSON functions refuse nesting deeper than 1000 levels, and the
 * contact merge (json_patch) runs on every later event for the user: one deep or huge object
 * would otherwise be stored and then fail everything that touches that contact.
 */
export const PROPERTIES_MAX_DEPTH = 32;
/** Serialized as JSON, in UTF-8 bytes. */
export const PROPERTIES_MAX_BYTES = 64 * 1024;
/** Top-level keys of one write; no more than a contact may hold, so one write never passes that cap alone. */
export const PROPERTIES_MAX_KEYS = 1000;

/**
 * What one contact's merged properties may hold (every write is within the per-write caps, but
 * merges accumulate: D1 refuses rows over 2 MB, and each key is an export column). A write whose
 * merge would pass either cap leaves the contact's properties as they were (services/contact-properties).
 */
export const CONTACT_PROPERTIES_MAX_BYTES = 256 * 1024;
export const CONTACT_PROPERTIES_MAX_KEYS = 1000;

/** Depth of the deepest container, stopping as soon as it passes the cap (so it never recurses far). */
function depthExceeds(value: unknown, max: number, depth = 1): boolean {
  if (depth > max) return true;
  if (typeof value !== "object" || value === null) return false;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => typeof child === "object" && child !== null && depthExceeds(child, max, depth + 1));
}

/** Why these properties are refused, or null when they are within the caps. */
export function propertiesProblem(properties: unknown): string | null {
  if (depthExceeds(properties, PROPERTIES_MAX_DEPTH)) {
    return `nested deeper than ${PROPERTIES_MAX_DEPTH} levels`;
  }
  if (typeof properties === "object" && properties !== null && Object.keys(properties).length > PROPERTIES_MAX_KEYS) {
    return `more than ${PROPERTIES_MAX_KEYS} top-level keys`;
  }
  const json = JSON.stringify(properties) ?? "";
  const bytes = json.length * 3 <= PROPERTIES_MAX_BYTES ? json.length : new TextEncoder().encode(json).length;
  if (bytes > PROPERTIES_MAX_BYTES) return `larger than ${PROPERTIES_MAX_BYTES / 1024} KB as JSON`;
  return null;
}
