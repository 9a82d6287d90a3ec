import { stringify } from "csv-stringify/sync";

/**
 * CSV formula neutralisation (OWASP "CSV injection"): a cell a spreadsheet would run as a formula
 * gets a leading apostrophe on the way out. Cells that already start with apostrophes before such
 * a character get one more, so `restoreFormulaCell` can undo exactly one and an export imports
 * back unchanged.
 */
const FORMULA_CELL = /^'*[=+\-@\t\r]/;
const NEUTRALISED_CELL = /^'+[=+\-@\t\r]/;

export function neutraliseFormulaCell(value: string): string {
  return FORMULA_CELL.test(value) ? `'${value}` : value;
}

export function restoreFormulaCell(value: string): string {
  return NEUTRALISED_CELL.test(value) ? value.slice(1) : value;
}

/** One CSV line (RFC 4180 quoting by csv-stringify), every cell neutralised. */
export function csvLine(cells: string[]): string {
  return stringify([cells.map(neutraliseFormulaCell)]);
}
