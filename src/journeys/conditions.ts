import type { Properties } from "../db/schema";

export const CONDITION_OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "exists", "not_exists", "contains"] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

/** A condition on an event property; `property` may be a dotted path into nested objects. */
export type Condition = { property: string; op: ConditionOp; value?: unknown };

export type EventMatcher = { event: string; where?: Condition[] };

function readPath(properties: Properties, path: string): unknown {
  let value: unknown = properties;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function compare(a: unknown, b: unknown): number | null {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

export function conditionHolds(properties: Properties, { property, op, value }: Condition): boolean {
  const actual = readPath(properties, property);
  switch (op) {
    case "exists":
      return actual !== undefined && actual !== null;
    case "not_exists":
      return actual === undefined || actual === null;
    case "eq":
      return actual === value;
    case "neq":
      return actual !== value;
    case "contains":
      if (typeof actual === "string" && typeof value === "string") return actual.includes(value);
      return Array.isArray(actual) && actual.includes(value);
    default: {
      const order = compare(actual, value);
      if (order === null) return false;
      return op === "gt" ? order > 0 : op === "gte" ? order >= 0 : op === "lt" ? order < 0 : order <= 0;
    }
  }
}

/** All conditions must hold. */
export const conditionsHold = (properties: Properties, where: Condition[] = []) =>
  where.every((condition) => conditionHolds(properties, condition));

export const matchesEvent = (matcher: EventMatcher, event: string, properties: Properties) =>
  matcher.event === event && conditionsHold(properties, matcher.where);
