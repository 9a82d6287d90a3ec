import type { ColumnType } from "../../db/schema";

/** A converted value, or the row error naming the column (`"seats: not a number"`). */
export type Converted = { value: unknown } | { error: string };

const TRUE = new Set(["true", "yes", "y", "1"]);
const FALSE = new Set(["false", "no", "n", "0"]);

// ISO 8601 and the zone-less "2024-01-05 10:00[:00]" that Mailchimp and HubSpot write.
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
/** Unix timestamps up to this are seconds (year 5138), above it milliseconds. */
const SECONDS_UP_TO = 1e11;
/** The largest distance from the epoch a Date can hold (ECMAScript): beyond it toISOString throws. */
const DATE_MAX_MS = 8.64e15;

export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim().toLowerCase();
  return TRUE.has(text) ? true : FALSE.has(text) ? false : undefined;
}

/**
 * A date as epoch milliseconds: ISO 8601; a date-time without a zone is read as UTC; a whole
 * number is a Unix timestamp in seconds (or milliseconds when it is that big).
 */
export function parseDate(value: unknown): number | undefined {
  const ms = parseDateMs(value);
  return ms !== undefined && Math.abs(ms) <= DATE_MAX_MS ? ms : undefined;
}

function parseDateMs(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? unixToMs(value) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d{1,13}$/.test(text)) return unixToMs(Number(text));
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, day, time, zone] = match;
  const ms = Date.parse(time ? `${day}T${time}${normalizeZone(zone)}` : `${day}T00:00:00Z`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-30 over to March 1st; a day that doesn't exist is not a date.
  const [y, m, d] = day!.split("-").map(Number);
  const calendar = new Date(Date.UTC(y!, m! - 1, d!));
  return calendar.getUTCMonth() === m! - 1 && calendar.getUTCDate() === d! ? ms : undefined;
}

const unixToMs = (n: number) => (Math.abs(n) <= SECONDS_UP_TO ? n * 1000 : n);
const normalizeZone = (zone: string | undefined) =>
  !zone ? "Z" : zone.toUpperCase() === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;

/** Mailchimp's TAGS cell: `"vip","beta"` (or a plain comma-separated list) → ["vip", "beta"]. */
function parseList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== "string") return undefined;
  return value
    .split(",")
    .map((item) =>
      item
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .trim(),
    )
    .filter((item) => item !== "");
}

/** Converts one non-empty value to the column's type; `string` keeps JSON values as they are. */
export function convertValue(column: string, type: ColumnType | undefined, value: unknown): Converted {
  const fail = (what: string) => ({ error: `${column}: not ${what}` });
  switch (type) {
    case undefined:
      return { value };
    case "string":
      return { value: typeof value === "object" && value !== null ? JSON.stringify(value) : String(value) };
    case "number": {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
      return Number.isFinite(n) && !(typeof value === "string" && value.trim() === "")
        ? { value: n }
        : fail("a number");
    }
    case "boolean": {
      const b = parseBoolean(value);
      return b === undefined ? fail("a boolean") : { value: b };
    }
    case "date": {
      const ms = parseDate(value);
      return ms === undefined ? fail("a date") : { value: new Date(ms).toISOString() };
    }
    case "json":
      if (typeof value !== "string") return { value };
      try {
        return { value: JSON.parse(value) };
      } catch {
        return fail("JSON");
      }
    case "list": {
      const list = parseList(value);
      return list === undefined ? fail("a list") : { value: list };
    }
  }
}

/**
 * An opt-out cell (`unsubscribed` / `suppressed`): a boolean, or a timestamp meaning "opted out
 * then". Empty or false is not an opt-out (and never lifts one). Epoch ms when opted out, null when not.
 */
export function convertOptOut(column: string, value: unknown, now: Date): { at: number | null } | { error: string } {
  if (value === undefined || value === null || value === "") return { at: null };
  const flag = parseBoolean(value);
  if (flag !== undefined) return { at: flag ? now.getTime() : null };
  const ms = parseDate(value);
  return ms === undefined ? { error: `${column}: not a boolean or a date` } : { at: ms };
}
