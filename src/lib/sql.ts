import { getTableColumns, type Table } from "drizzle-orm";
import { chunk } from "./chunk";

/** The longest email address (RFC 5321 local part + domain); also bounds searches over addresses. */
export const MAX_EMAIL_LENGTH = 320;

/** D1 allows at most 100 bound parameters per statement. */
export const D1_MAX_PARAMS = 100;

/** Splits rows so each multi-row statement stays inside D1's bound-parameter limit. */
export function chunkForParams<T>(rows: T[], paramsPerRow: number, maxParams = D1_MAX_PARAMS): T[][] {
  return chunk(rows, Math.max(1, Math.floor(maxParams / paramsPerRow)));
}

/** Drizzle binds every column of a multi-row insert, defaults included: that is the per-row cost. */
export function paramsPerRow(table: Table): number {
  return Object.keys(getTableColumns(table)).length;
}

/**
 * Keyset paging: callers fetch `limit + 1` rows ordered by id; the extra row only says whether
 * there is a next page, whose cursor is the last id shown.
 */
export function keysetPage<T extends { id: string }>(
  rows: T[],
  limit: number,
): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}
