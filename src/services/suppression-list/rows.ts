import { z } from "@hono/zod-openapi";
import type { ImportOptions, SuppressionReason } from "../../db/schema";
import { restoreFormulaCell } from "../../lib/csv";
import { MAX_EMAIL_LENGTH } from "../../lib/sql";
import { parseDate } from "../imports/convert";
import { parseObject, type RowReaders } from "../imports/mapped-rows";
import { DEFAULT_COLUMNS, readReason, SUPPRESSION_PRESET_SPECS, type SuppressionTarget } from "./presets";

/** One suppression to add: the address as given (trimmed) or a stored keyed hash, and its reason, source and time. */
export type SuppressionEntry = { address: string; reason: SuppressionReason; source: string; at: number };

/** One data row of a suppression import, numbered from 1 (a CSV header is not a row). */
export type SuppressionRow = { row: number; data: string } & ({ entry: SuppressionEntry } | { error: string });

export const MAX_SOURCE_LENGTH = 100;
// z.email()'s own pattern, tested directly: safeParse costs ~3 µs a row, a million-row file 3 s.
const EMAIL = z.regexes.email;
/** An erased person's entry as our export writes it: moved between deployments sharing ERASURE_HASH_SECRET. */
const STORED_HASH = /^(hmac|sha256):[0-9a-f]{64}$/;
// Mailgun's dates: "Fri, 21 Oct 2011 11:02:55 GMT" (RFC 2822).
const RFC_2822 = /^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}(:\d{2})? (GMT|UTC|[+-]\d{4})$/;

export const isStoredHash = (address: string) => STORED_HASH.test(address);

/** The address problem, or null: a valid address, or one of our keyed hashes. */
export function addressProblem(address: string): string | null {
  if (address === "") return "Missing address";
  if (isStoredHash(address)) return null;
  return address.length > MAX_EMAIL_LENGTH || !EMAIL.test(address) ? "Invalid email format" : null;
}

const key = (name: string) => name.trim().toLowerCase();

/** Column name → target: the user's mapping, then the preset's, then the default names; others are ignored. */
function targetResolver(options: ImportOptions) {
  const preset = options.suppressionPreset ? SUPPRESSION_PRESET_SPECS[options.suppressionPreset] : undefined;
  const lower = (record: Record<string, unknown> = {}) => new Map(Object.entries(record).map(([k, v]) => [key(k), v]));
  const user = lower(options.mapping);
  const fromPreset = lower(preset?.mapping);
  return (name: string): SuppressionTarget | null => {
    const k = key(name);
    if (user.has(k)) return (user.get(k) as SuppressionTarget | null) ?? null;
    if (fromPreset.has(k)) return (fromPreset.get(k) as SuppressionTarget | null) ?? null;
    return DEFAULT_COLUMNS[k] ?? null;
  };
}

type Values = Partial<Record<SuppressionTarget, unknown>>;

/** The mapped values of one row → the entry, or the first error (naming the column). */
function toEntry(values: Values, options: ImportOptions, now: Date): { entry: SuppressionEntry } | { error: string } {
  const address = typeof values.address === "string" ? values.address.trim() : values.address == null ? "" : null;
  if (address === null) return { error: "address: not a string" };
  const problem = addressProblem(address);
  if (problem) return { error: problem };

  let reason = options.reason;
  if (values.reason !== undefined && values.reason !== "") {
    const read = typeof values.reason === "string" ? readReason(values.reason) : undefined;
    if (!read)
      return { error: `reason: "${String(values.reason)}" is not a bounce, complaint, unsubscribe or manual block` };
    reason = read;
  }
  if (!reason) return { error: "reason: missing (give the import a reason for rows without one)" };

  let at = now.getTime();
  if (values.date !== undefined && values.date !== "") {
    const text = typeof values.date === "string" ? values.date.trim() : values.date;
    const ms = typeof text === "string" && RFC_2822.test(text) ? Date.parse(text) : parseDate(text);
    if (ms === undefined || Number.isNaN(ms)) return { error: "date: not a date" };
    at = ms;
  }

  const given = typeof values.source === "string" ? values.source.trim() : "";
  if (given.length > MAX_SOURCE_LENGTH) return { error: `source: longer than ${MAX_SOURCE_LENGTH} characters` };
  const source = given || options.source || options.suppressionPreset || "import";
  return { entry: { address, reason, source, at } };
}

/** How a suppression import's chunks turn records into rows; `csv(header)` decides the layout once per file. */
export function suppressionRowReaders(options: ImportOptions, now = new Date()): RowReaders<SuppressionRow> {
  const resolve = targetResolver(options);
  return {
    csv(header) {
      const names = header.map((cell) => restoreFormulaCell(cell.trim()));
      const targets = names.map((name) => (name === "" ? null : resolve(name)));
      const problem = layoutProblem(options, names, targets);
      if (problem) return { error: problem };
      return (cells, row) => {
        const data = JSON.stringify(cells);
        if (cells.length > names.length)
          return { row, data, error: `Row has ${cells.length} columns; the header has ${names.length}` };
        const values: Values = {};
        cells.forEach((raw, i) => {
          const target = targets[i];
          if (target && raw !== "") values[target] = restoreFormulaCell(raw);
        });
        return { row, data, ...toEntry(values, options, now) };
      };
    },
    json(text, row) {
      const object = parseObject(text);
      if (typeof object === "string") return { row, data: text, error: object };
      const values: Values = {};
      for (const [name, v] of Object.entries(object)) {
        const target = resolve(name);
        if (target && v !== null && values[target] === undefined) values[target] = v;
      }
      return { row, data: text, ...toEntry(values, options, now) };
    },
  };
}

/** Why a CSV header can't be imported as a suppression list, or null. */
function layoutProblem(options: ImportOptions, names: string[], targets: Array<SuppressionTarget | null>) {
  const present = new Set(names.map(key));
  const missing = Object.keys(options.mapping ?? {}).find((name) => !present.has(key(name)));
  if (missing !== undefined) return `mapping names a column the file doesn't have: "${missing}"`;
  for (const target of ["address", "reason", "date", "source"] as const) {
    const columns = names.filter((_, i) => targets[i] === target).map((n) => `"${n}"`);
    if (columns.length > 1) return `Several columns map to ${target}: ${columns.join(", ")}`;
  }
  if (!targets.includes("address"))
    return 'No column holds the address: name it "address" or "email", map one with {"mapping": {"Your column": "address"}}, or use a preset';
  return null;
}
