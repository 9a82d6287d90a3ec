import { InvalidArgumentError } from "commander";
import { COLUMN_TYPES, IMPORT_PRESETS } from "hogsend-workers/client";

/** The server's own lists, generated from its OpenAPI document (client/lists.mjs): the CLI keeps no copy. */
export { COLUMN_TYPES, IMPORT_PRESETS as PRESETS };

/** @typedef {import("hogsend-workers/client").components["schemas"]["ImportEnvelope"]} ImportEnvelope */
/** @typedef {Pick<ImportEnvelope, "preset" | "mapping" | "types" | "dryRun">} ImportOptions */
/** @typedef {NonNullable<ImportEnvelope["types"]>[string]} ColumnType */

/**
 * `--map "Email Address=email"` (repeatable): column → field; `col=` drops it; `a=email,externalId` maps to both.
 * @param {string} value @param {NonNullable<ImportOptions["mapping"]>} [previous]
 * @returns {NonNullable<ImportOptions["mapping"]>}
 */
export function collectMapping(value, previous = {}) {
  const at = value.lastIndexOf("=");
  if (at <= 0) throw new InvalidArgumentError('use COLUMN=FIELD, e.g. "Email Address=email" (COLUMN= drops it)');
  const column = value.slice(0, at).trim();
  const fields = value
    .slice(at + 1)
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  return { ...previous, [column]: fields.length === 0 ? null : fields.length === 1 ? fields[0] : fields };
}

/**
 * `--type seats=number` (repeatable).
 * @param {string} value @param {NonNullable<ImportOptions["types"]>} [previous]
 * @returns {NonNullable<ImportOptions["types"]>}
 */
export function collectType(value, previous = {}) {
  const at = value.lastIndexOf("=");
  const type = /** @type {ColumnType} */ (value.slice(at + 1).trim());
  if (at <= 0 || !COLUMN_TYPES.includes(type)) {
    throw new InvalidArgumentError(`use COLUMN=TYPE with TYPE one of ${COLUMN_TYPES.join(", ")}`);
  }
  return { ...previous, [value.slice(0, at).trim()]: type };
}

/**
 * The import options the API takes (`preset`, `mapping`, `types`, `dryRun`), only those given.
 * @param {{ preset?: ImportOptions["preset"], map?: ImportOptions["mapping"], type?: ImportOptions["types"], dryRun?: boolean }} flags
 * @returns {ImportOptions}
 */
export function importOptions({ preset, map, type, dryRun }) {
  return {
    ...(preset ? { preset } : {}),
    ...(map ? { mapping: map } : {}),
    ...(type ? { types: type } : {}),
    ...(dryRun ? { dryRun: true } : {}),
  };
}

/**
 * The options as the raw-upload form's query parameters (maps as JSON text).
 * @param {ImportOptions} options
 */
export function optionsQuery(options) {
  /** @type {{ preset?: ImportOptions["preset"], dryRun?: "true", mapping?: string, types?: string }} */
  const query = {};
  if (options.preset) query.preset = options.preset;
  if (options.dryRun) query.dryRun = "true";
  if (options.mapping) query.mapping = JSON.stringify(options.mapping);
  if (options.types) query.types = JSON.stringify(options.types);
  return query;
}

/** @typedef {import("hogsend-workers/client").components["schemas"]["SuppressionImportEnvelope"]} SuppressionImportEnvelope */
/** @typedef {Pick<SuppressionImportEnvelope, "preset" | "mapping" | "reason" | "source" | "dryRun">} SuppressionImportOptions */

/**
 * `--map "Bounced Address=address"` (repeatable) for a suppression list: column → address, reason, date or source; `col=` ignores it.
 * @param {string} value @param {NonNullable<SuppressionImportOptions["mapping"]>} [previous]
 * @returns {NonNullable<SuppressionImportOptions["mapping"]>}
 */
export function collectSuppressionMapping(value, previous = {}) {
  const at = value.lastIndexOf("=");
  const target = value.slice(at + 1).trim();
  if (at <= 0 || !["address", "reason", "date", "source", ""].includes(target)) {
    throw new InvalidArgumentError(
      "use COLUMN=FIELD with FIELD one of address, reason, date, source (COLUMN= ignores it)",
    );
  }
  return {
    ...previous,
    [value.slice(0, at).trim()]: /** @type {"address" | "reason" | "date" | "source" | null} */ (target || null),
  };
}

/**
 * The suppression import's options as the raw-upload form's query parameters.
 * @param {SuppressionImportOptions} options
 */
export function suppressionOptionsQuery(options) {
  /** @type {{ preset?: SuppressionImportOptions["preset"], reason?: SuppressionImportOptions["reason"], source?: string, dryRun?: "true", mapping?: string }} */
  const query = {};
  if (options.preset) query.preset = options.preset;
  if (options.reason) query.reason = options.reason;
  if (options.source) query.source = options.source;
  if (options.dryRun) query.dryRun = "true";
  if (options.mapping) query.mapping = JSON.stringify(options.mapping);
  return query;
}
