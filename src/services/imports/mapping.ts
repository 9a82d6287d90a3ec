import type { ColumnType, ImportOptions, MappingTarget } from "../../db/schema";
import { findTopic } from "../../emails/topics";
import { PRESETS } from "./presets";

export const RESERVED_TARGETS = ["externalId", "email", "unsubscribed", "suppressed"] as const;
type Reserved = (typeof RESERVED_TARGETS)[number];
/** `topic:<key>`: the column is the contact's choice for that topic (src/emails/topics.ts). */
export type Target = Reserved | { property: string } | { topic: string };

export const TOPIC_TARGET_PREFIX = "topic:";
const topicTarget = (name: string): Target | undefined =>
  name.toLowerCase().startsWith(TOPIC_TARGET_PREFIX)
    ? { topic: name.slice(TOPIC_TARGET_PREFIX.length).trim() }
    : undefined;
const propertyOf = (t: Target) => (typeof t !== "string" && "property" in t ? t.property : undefined);

/** Where one source column (CSV header cell, or JSON key) goes, and how its values convert. */
export type Field = { source: string; targets: Target[]; type?: ColumnType };

/** Mapping is on when any of these is given; without them a file is read exactly as before. */
export const isMapped = (options: ImportOptions | null | undefined): options is ImportOptions =>
  Boolean(options && (options.preset || options.mapping || options.types));

const key = (name: string) => name.trim().toLowerCase();
const lowerKeys = <T>(record: Record<string, T> = {}) =>
  new Map(Object.entries(record).map(([name, value]) => [key(name), value]));

const toTargets = (target: MappingTarget): Target[] =>
  (target === null ? [] : Array.isArray(target) ? target : [target]).map((t) =>
    (RESERVED_TARGETS as readonly string[]).includes(t) ? (t as Reserved) : (topicTarget(t) ?? { property: t }),
  );

/**
 * Resolves source names to fields: the user's mapping, then the preset's, then the defaults (a
 * column named `externalId`, `email`, `unsubscribed` or `suppressed` is that field, any other
 * becomes a property under its own name). Names match case-insensitively and trimmed. Once the user maps a column to `externalId`
 * or `email`, no preset or default column claims that field too.
 */
export function fieldResolver(options: ImportOptions) {
  const preset = options.preset ? PRESETS[options.preset] : undefined;
  const userMapping = lowerKeys(options.mapping);
  const presetMapping = lowerKeys(preset?.mapping);
  const userTypes = lowerKeys(options.types);
  const presetTypes = lowerKeys(preset?.types);
  const claimed = new Set([...userMapping.values()].flatMap(toTargets).filter((t) => typeof t === "string"));

  return (source: string, defaultProperty = source.trim()): Field => {
    const k = key(source);
    let targets: Target[];
    if (userMapping.has(k)) targets = toTargets(userMapping.get(k) ?? null);
    else {
      const fallback = RESERVED_TARGETS.find((t) => t.toLowerCase() === k) ??
        topicTarget(source.trim()) ?? { property: defaultProperty };
      const chosen = presetMapping.has(k) ? toTargets(presetMapping.get(k) ?? null) : [fallback];
      targets = chosen.filter((t) => typeof t !== "string" || !claimed.has(t));
      if (chosen.length > 0 && targets.length === 0) targets = [{ property: defaultProperty }];
    }
    const property = targets.map(propertyOf).find((p) => p !== undefined);
    const type = userTypes.get(k) ?? (property ? userTypes.get(key(property)) : undefined) ?? presetTypes.get(k);
    return { source: source.trim(), targets, type };
  };
}

/** Mapping or type names that match nothing in a CSV header: a typo there would lose data silently. */
export function unmatchedNames(options: ImportOptions, fields: Field[]): string | null {
  const sources = new Set(fields.map((f) => key(f.source)));
  const properties = new Set(
    fields.flatMap((f) => f.targets.flatMap((t) => (propertyOf(t) === undefined ? [] : [key(propertyOf(t)!)]))),
  );
  const column = Object.keys(options.mapping ?? {}).find((name) => !sources.has(key(name)));
  if (column !== undefined) return `mapping names a column the file doesn't have: "${column}"`;
  const typed = Object.keys(options.types ?? {}).find((name) => !sources.has(key(name)) && !properties.has(key(name)));
  if (typed !== undefined) return `types names a column or property the file doesn't have: "${typed}"`;
  const topic = fields
    .flatMap((f) => f.targets)
    .find((t) => typeof t !== "string" && "topic" in t && !findTopic(t.topic));
  if (topic) return `mapping names an unknown topic: "${(topic as { topic: string }).topic}"`;
  return null;
}

/** The one column a CSV's externalId comes from, or the job-level reason there isn't one. */
export function externalIdError(fields: Field[]): string | null {
  const sources = fields.filter((f) => f.targets.includes("externalId")).map((f) => `"${f.source}"`);
  if (sources.length === 1) return null;
  if (sources.length > 1) return `Several columns map to externalId: ${sources.join(", ")}`;
  return 'No column maps to externalId: add one to "mapping" (e.g. {"Email Address": ["email", "externalId"]}) or use a preset';
}
