import { z } from "@hono/zod-openapi";
import {
  IMPORT_FORMATS,
  IMPORT_STATUSES,
  type ImportOptions,
  SUPPRESSION_PRESETS,
  SUPPRESSION_REASONS,
} from "../../db/vocabulary";
import { AppError, describeZodError } from "../../lib/errors";
import { SUPPRESSION_PRESET_SPECS, SUPPRESSION_TARGETS } from "../../services/suppression-list/presets";
import { MAX_SOURCE_LENGTH } from "../../services/suppression-list/rows";
import { MAX_MAPPED_COLUMNS, NAME_KEYS, Name } from "./import-options";

export const SuppressionReasonSchema = z.enum(SUPPRESSION_REASONS);
export const SuppressionSource = z.string().trim().min(1).max(MAX_SOURCE_LENGTH);

const SuppressionMappingSchema = z
  .record(Name, z.union([z.enum(SUPPRESSION_TARGETS), z.null()]))
  .refine((m) => Object.keys(m).length <= MAX_MAPPED_COLUMNS, `at most ${MAX_MAPPED_COLUMNS} columns`)
  .openapi({
    ...NAME_KEYS,
    description:
      "Source column (CSV header cell, or JSON key) → `address`, `reason`, `date`, `source`, or null (ignore). Matched case-insensitively; columns not mapped and not named `address`/`email`, `reason`, `date`/`createdAt`/`created_at` or `source` are ignored.",
    example: { "Bounced Address": "address", "Bounce Date": "date" },
  });

export const SuppressionOptionFields = {
  preset: z.enum(SUPPRESSION_PRESETS).optional().openapi({
    description:
      "The columns of another sender's suppression export (docs/contacts-import-export.md#suppression-lists)",
  }),
  mapping: SuppressionMappingSchema.optional(),
  reason: SuppressionReasonSchema.optional().openapi({
    description:
      "The reason of rows without one; required with the `sendgrid` and `mailgun` presets, whose exports are one file per list",
  }),
  source: SuppressionSource.optional().openapi({
    description: "The source of rows without one (default: the preset's name, else `import`)",
  }),
  dryRun: z.boolean().optional().openapi({ description: "Read and validate the whole file; suppress nothing" }),
};
const OptionsSchema = z.object(SuppressionOptionFields).strict();

export const SuppressionOptionQuery = {
  preset: SuppressionOptionFields.preset,
  dryRun: z.enum(["true", "false"]).optional().openapi({ description: "`true`: a dry run" }),
  mapping: z
    .string()
    .max(16_384)
    .optional()
    .openapi({ description: "`mapping` as JSON", example: '{"Bounced Address":"address"}' }),
  reason: SuppressionOptionFields.reason,
  source: SuppressionOptionFields.source,
};

/** Validated suppression-import options, the empty ones left out. */
export function suppressionImportOptions(input: Record<string, unknown>): ImportOptions {
  const parsed = OptionsSchema.safeParse(input);
  if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
  const { preset, mapping, reason, source, dryRun } = parsed.data;
  if (preset && SUPPRESSION_PRESET_SPECS[preset].needsReason && !reason) {
    throw new AppError(
      "VALIDATION_ERROR",
      `reason: required with the ${preset} preset (its exports are one file per list: say which, e.g. hard_bounce or complaint)`,
    );
  }
  return {
    ...(preset ? { suppressionPreset: preset } : {}),
    ...(mapping ? { mapping } : {}),
    ...(reason ? { reason } : {}),
    ...(source ? { source } : {}),
    ...(dryRun ? { dryRun } : {}),
  };
}

const count = (description: string) => z.number().int().openapi({ description });

export const SuppressionImportSchema = z
  .object({
    id: z.string(),
    status: z.enum(IMPORT_STATUSES),
    fileName: z.string().nullable(),
    format: z.enum(IMPORT_FORMATS),
    totalRows: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Data rows in the file; null until it has been read" }),
    processedRows: count("Valid rows so far: suppressed + alreadySuppressed"),
    failedRows: count("Invalid rows so far (the same as `invalid`)"),
    suppressed: count("Addresses this import suppressed (in a dry run: would suppress)"),
    alreadySuppressed: count("Valid rows whose address was suppressed already, or repeats one earlier in the file"),
    invalid: count("Rows skipped with an error (all of them, not only those listed)"),
    bytesProcessed: z.number().int(),
    bytesTotal: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the job failed (status `failed`)" }),
    dryRun: z.boolean(),
    preset: z.enum(SUPPRESSION_PRESETS).nullable(),
    mapping: z.record(z.string(), z.union([z.string(), z.array(z.string())]).nullable()).nullable(),
    reason: z.string().nullable(),
    source: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi("SuppressionImportSummary");

export const SuppressionImportDetailSchema = SuppressionImportSchema.extend({
  errors: z
    .array(z.object({ row: z.number().int(), error: z.string() }))
    .openapi({ description: "The first 1000 invalid rows; `row` is the 1-based data row" }),
  errorCount: z.number().int(),
}).openapi("SuppressionImport");
