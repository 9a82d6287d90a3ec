import { z } from "@hono/zod-openapi";
import { COLUMN_TYPES, IMPORT_PRESETS, type ImportOptions } from "../../db/vocabulary";
import { AppError, describeZodError } from "../../lib/errors";
import { IMPORT_OPTIONS_HEADER } from "./import-file";

export const MAX_MAPPED_COLUMNS = 500;
/** 1–255 characters once trimmed, as JSON Schema states it (the document shows keys and values alike). */
const NAME_PATTERN = "^\\s*(?=\\S)[\\s\\S]{1,255}(?<=\\S)\\s*$";
export const Name = z.string().trim().min(1).max(255).openapi({ pattern: NAME_PATTERN });
/** zod's record keys don't reach the document: it states them as `propertyNames`. */
export const NAME_KEYS = { propertyNames: { pattern: NAME_PATTERN }, maxProperties: MAX_MAPPED_COLUMNS };

export const MappingSchema = z
  .record(Name, z.union([Name, z.array(Name).min(1).max(4), z.null()]))
  .refine((m) => Object.keys(m).length <= MAX_MAPPED_COLUMNS, `at most ${MAX_MAPPED_COLUMNS} columns`)
  .openapi({
    ...NAME_KEYS,
    description:
      "Source column (CSV header cell, or JSON key; `properties.x` for a key inside `properties`) → `externalId`, `email`, `unsubscribed`, `suppressed`, `topic:<key>` (the contact's choice for that topic: yes/no, true/false, subscribed/unsubscribed; a no always lands, a yes never lifts an earlier no), a property name, a list of those, or null (drop). Matched case-insensitively; a column named `topic:<key>` (as exports write them) is that topic.",
    example: { "Email Address": ["email", "externalId"], "First Name": "firstName", LEID: null },
  });

export const TypesSchema = z
  .record(Name, z.enum(COLUMN_TYPES))
  .refine((m) => Object.keys(m).length <= MAX_MAPPED_COLUMNS, `at most ${MAX_MAPPED_COLUMNS} columns`)
  .openapi({
    ...NAME_KEYS,
    description:
      "Source column or property → `string` (default), `number`, `boolean`, `date` (stored as ISO 8601), `json` or `list` (comma-separated). A value that doesn't convert fails its row: `seats: not a number`.",
    example: { seats: "number", vip: "boolean", signedUpAt: "date" },
  });

export const ImportOptionFields = {
  preset: z
    .enum(IMPORT_PRESETS)
    .optional()
    .openapi({ description: "Column mapping and types for another tool's export" }),
  mapping: MappingSchema.optional(),
  types: TypesSchema.optional(),
  dryRun: z.boolean().optional().openapi({ description: "Read and validate the whole file; write no contact" }),
};
const OptionsSchema = z.object(ImportOptionFields).strict();

/** The raw-upload form's query parameters (the envelope's fields, with the maps as JSON text). */
export const ImportOptionQuery = {
  preset: ImportOptionFields.preset,
  dryRun: z.enum(["true", "false"]).optional().openapi({ description: "`true`: a dry run" }),
  mapping: z
    .string()
    .max(16_384)
    .optional()
    .openapi({ description: "`mapping` as JSON", example: '{"id":"externalId"}' }),
  types: z.string().max(16_384).optional().openapi({ description: "`types` as JSON", example: '{"seats":"number"}' }),
};

type RawOptions = {
  preset?: string;
  dryRun?: string;
  mapping?: string;
  types?: string;
  reason?: string;
  source?: string;
};

/**
 * The options of a raw upload, unvalidated: the `X-Import-Options` JSON header, each query
 * parameter taking precedence over the header's field of the same name.
 */
export function mergeRawOptions(query: RawOptions, header: string | undefined): Record<string, unknown> {
  const fromHeader = header === undefined ? {} : parseJson(IMPORT_OPTIONS_HEADER, header);
  if (typeof fromHeader !== "object" || fromHeader === null || Array.isArray(fromHeader))
    throw new AppError("VALIDATION_ERROR", `${IMPORT_OPTIONS_HEADER}: must be a JSON object`);
  const merged: Record<string, unknown> = { ...fromHeader };
  if (query.preset !== undefined) merged.preset = query.preset;
  if (query.dryRun !== undefined) merged.dryRun = query.dryRun === "true";
  if (query.mapping !== undefined) merged.mapping = parseJson("mapping", query.mapping);
  if (query.types !== undefined) merged.types = parseJson("types", query.types);
  if (query.reason !== undefined) merged.reason = query.reason;
  if (query.source !== undefined) merged.source = query.source;
  return merged;
}

/** A contact import's raw-upload options, validated. */
export const rawImportOptions = (query: RawOptions, header: string | undefined): ImportOptions =>
  importOptions(mergeRawOptions(query, header));

/** Validated options with the empty ones left out (`{}` when the import is plain). */
export function importOptions(input: Record<string, unknown>): ImportOptions {
  const parsed = OptionsSchema.safeParse(input);
  if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
  const { preset, mapping, types, dryRun } = parsed.data;
  return {
    ...(preset ? { preset } : {}),
    ...(mapping ? { mapping } : {}),
    ...(types ? { types } : {}),
    ...(dryRun ? { dryRun } : {}),
  };
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("VALIDATION_ERROR", `${name}: not valid JSON`);
  }
}
