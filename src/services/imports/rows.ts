import { z } from "@hono/zod-openapi";
import type { Properties } from "../../db/schema";
import { restoreFormulaCell } from "../../lib/csv";
import { propertiesProblem } from "../../lib/properties";
import { MAX_EMAIL_LENGTH } from "../../lib/sql";
import type { ContactUpsert } from "../contacts";

export const MAX_EXTERNAL_ID_LENGTH = 255;
const EmailSchema = z.email();

/**
 * Opt-outs a mapped row carries (epoch ms): unsubscribes the contact, suppresses its address; and
 * its topic choices (`topic:<key>` columns).
 */
export type OptOut = { unsubscribed?: number; suppressed?: number; topics?: Record<string, boolean> };

/** One data row of an import, numbered from 1 (a CSV header is not a row). */
export type ImportRow = { row: number } & ({ contact: ContactUpsert; optOut?: OptOut } | { error: string }) & {
    /** The original row for the error report: CSV cells as a JSON array, or the JSON text. */
    data: string;
  };

type Candidate = { externalId?: unknown; email?: unknown; properties?: unknown };

/** Per-row validation, with the messages users see in the job status and errors.csv. */
export function validateCandidate(candidate: Candidate): { contact: ContactUpsert } | { error: string } {
  let externalId = candidate.externalId;
  if (typeof externalId === "number" && Number.isFinite(externalId)) externalId = String(externalId);
  if (typeof externalId === "string") externalId = externalId.trim();
  if (externalId === undefined || externalId === null || externalId === "") return { error: "Missing externalId" };
  if (typeof externalId !== "string") return { error: "externalId must be a string" };
  if (externalId.length > MAX_EXTERNAL_ID_LENGTH) {
    return { error: `externalId too long (max ${MAX_EXTERNAL_ID_LENGTH} characters)` };
  }

  let email: string | undefined;
  if (candidate.email !== undefined && candidate.email !== null && candidate.email !== "") {
    if (typeof candidate.email !== "string") return { error: "Invalid email format" };
    email = candidate.email.trim();
    if (email.length > MAX_EMAIL_LENGTH || !EmailSchema.safeParse(email).success)
      return { error: "Invalid email format" };
  }

  const properties = candidate.properties ?? {};
  if (typeof properties !== "object" || Array.isArray(properties)) return { error: "properties must be an object" };
  const problem = propertiesProblem(properties);
  if (problem) return { error: `properties ${problem}` };
  return { contact: { externalId, email, properties: properties as Properties } };
}

/** The column layout of a CSV import, decided once from its header. */
export type CsvLayout = { columns: string[]; externalIdIndex: number; emailIndex: number };

/** Header cells → layout, or the job-level reason the file can't be imported. */
export function csvLayout(headerCells: string[], { requireExternalId = true } = {}): CsvLayout | { error: string } {
  const columns = headerCells.map((cell) => restoreFormulaCell(cell.trim()));
  const named = columns.filter((name) => name !== "");
  const repeated = named.find((name, i) => named.indexOf(name) !== i);
  if (repeated !== undefined) return { error: `CSV header repeats the column "${repeated}"` };
  const externalIdIndex = columns.indexOf("externalId");
  if (externalIdIndex === -1 && requireExternalId) return { error: "CSV header has no externalId column" };
  return { columns, externalIdIndex, emailIndex: columns.indexOf("email") };
}

/** A CSV record → row: empty cells are dropped (they never overwrite), other columns become properties. */
export function csvRow(layout: CsvLayout, cells: string[], row: number): ImportRow {
  const data = JSON.stringify(cells);
  if (cells.length > layout.columns.length) {
    return { row, data, error: `Row has ${cells.length} columns; the header has ${layout.columns.length}` };
  }
  const candidate: Candidate = {};
  const properties: Properties = {};
  cells.forEach((raw, i) => {
    const name = layout.columns[i];
    // An export's `aliases` column (the ids the person is also known by) is not a property.
    if (!name || raw === "" || name === "aliases") return;
    const value = restoreFormulaCell(raw);
    if (i === layout.externalIdIndex) candidate.externalId = value;
    else if (i === layout.emailIndex) candidate.email = value;
    else properties[name] = value;
  });
  candidate.properties = properties;
  return { row, data, ...validateCandidate(candidate) };
}

/** One JSON object (an NDJSON line or a JSON array item) → row. */
export function jsonRow(text: string, row: number): ImportRow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { row, data: text, error: "Malformed JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { row, data: text, error: "Row is not a JSON object" };
  }
  return { row, data: text, ...validateCandidate(value as Candidate) };
}
