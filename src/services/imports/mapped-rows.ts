import type { ImportOptions, Properties } from "../../db/schema";
import { restoreFormulaCell } from "../../lib/csv";
import type { ContactUpsert } from "../contacts";
import { convertOptOut, convertValue } from "./convert";
import { externalIdError, type Field, fieldResolver, isMapped, unmatchedNames } from "./mapping";
import { csvLayout, csvRow, type ImportRow, jsonRow, type OptOut, validateCandidate } from "./rows";
import { convertTopicChoice } from "./topic-choices";

type Pair = [Field, unknown];

/** How a chunk turns records into rows: `csv(header)` decides the layout once per file. */
export type RowReaders<Row = ImportRow> = {
  csv(header: string[]): ((cells: string[], row: number) => Row) | { error: string };
  json(text: string, row: number): Row;
};

/** The plain readers, or the mapped ones when the job has a mapping, preset or types. */
export function rowReaders(options: ImportOptions | null | undefined, now = new Date()): RowReaders {
  if (!isMapped(options)) {
    return {
      csv(header) {
        const layout = csvLayout(header);
        return "error" in layout ? layout : (cells, row) => csvRow(layout, cells, row);
      },
      json: jsonRow,
    };
  }
  const resolve = fieldResolver(options);
  return {
    csv(header) {
      const plain = csvLayout(header, { requireExternalId: false });
      if ("error" in plain) return plain;
      const fields = plain.columns.map((name) => resolve(name));
      const problem = unmatchedNames(options, fields) ?? externalIdError(fields);
      if (problem) return { error: problem };
      return (cells, row) => {
        const data = JSON.stringify(cells);
        if (cells.length > fields.length)
          return { row, data, error: `Row has ${cells.length} columns; the header has ${fields.length}` };
        const pairs = cells.map((raw, i): Pair => [fields[i]!, raw === "" ? undefined : restoreFormulaCell(raw)]);
        return {
          row,
          data,
          ...mapRow(
            pairs.filter(([f]) => f.source !== ""),
            now,
          ),
        };
      };
    },
    json(text, row) {
      const object = parseObject(text);
      if (typeof object === "string") return { row, data: text, error: object };
      const pairs: Pair[] = [];
      for (const [name, value] of Object.entries(object)) {
        if (name !== "properties") pairs.push([resolve(name), value]);
        else if (value === null || typeof value !== "object" || Array.isArray(value))
          return { row, data: text, error: "properties must be an object" };
        else for (const [sub, v] of Object.entries(value)) pairs.push([resolve(`properties.${sub}`, sub), v]);
      }
      return { row, data: text, ...mapRow(pairs, now) };
    },
  };
}

/** A JSON row's object, or the row error. */
export function parseObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "Malformed JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "Row is not a JSON object";
  return value as Record<string, unknown>;
}

/** The mapped values of one row → the contact, its opt-outs, or the first error (naming the column). */
function mapRow(pairs: Pair[], now: Date): { contact: ContactUpsert; optOut?: OptOut } | { error: string } {
  let externalId: unknown;
  let email: unknown;
  const properties: Properties = {};
  const optOut: OptOut = {};
  for (const [field, value] of pairs) {
    if (value === undefined || value === "") continue;
    for (const target of field.targets) {
      if (target === "externalId") {
        // Keyed by address: one contact per address, however the old tool capitalised it.
        externalId = field.targets.includes("email") && typeof value === "string" ? value.trim().toLowerCase() : value;
      } else if (target === "email") email = value;
      else if (target === "unsubscribed" || target === "suppressed") {
        const converted = convertOptOut(field.source, value, now);
        if ("error" in converted) return converted;
        if (converted.at !== null) optOut[target] = converted.at;
      } else if ("topic" in target) {
        const converted = convertTopicChoice(field.source, target.topic, value);
        if ("error" in converted) return converted;
        optOut.topics = { ...optOut.topics, [target.topic]: converted.subscribed };
      } else {
        const converted = convertValue(field.source, field.type, value);
        if ("error" in converted) return converted;
        properties[target.property] = converted.value;
      }
    }
  }
  const validated = validateCandidate({ externalId, email, properties });
  if ("error" in validated) return validated;
  if (optOut.suppressed !== undefined && !validated.contact.email) {
    const column = pairs.find(([f]) => f.targets.includes("suppressed"))?.[0].source ?? "suppressed";
    return { error: `${column}: no email address to suppress` };
  }
  return Object.keys(optOut).length > 0 ? { contact: validated.contact, optOut } : validated;
}
