import { and, asc, eq, gt, inArray, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { suppressions } from "../../db/schema";
import { csvLine } from "../../lib/csv";
import type { KeyedHash } from "../../lib/keyed-hash";
import { textStream } from "../../lib/stream";
import { hashedForms, normalizedAddress } from "../suppressions";

export type SuppressionFilter = { reason?: string; source?: string; address?: string };
type Row = typeof suppressions.$inferSelect;

/** A list entry: an erased person's address stays its keyed hash (`erased: true`). */
export const suppressionView = (row: Row) => ({
  address: row.email,
  erased: /^(hmac|sha256):/.test(row.email),
  reason: row.reason,
  source: row.source,
  createdAt: row.createdAt,
});

/** The filter as SQL; `address` finds that one address, in clear or hashed. */
async function where(hash: KeyedHash, filter: SuppressionFilter, after?: string): Promise<SQL | undefined> {
  const address = filter.address ? await hashedForms(hash, filter.address) : null;
  return and(
    filter.reason ? eq(suppressions.reason, filter.reason) : undefined,
    filter.source ? eq(suppressions.source, filter.source) : undefined,
    address
      ? or(eq(suppressions.email, normalizedAddress(address.email)), inArray(suppressions.email, address.hashed))
      : undefined,
    after ? gt(suppressions.email, after) : undefined,
  );
}

/** Keyset-paged by address (the primary key; with a reason or source, their indexes). */
export async function listSuppressions(
  deps: { db: Database; hash: KeyedHash },
  query: SuppressionFilter & { limit: number; cursor?: string },
) {
  const rows = await deps.db
    .select()
    .from(suppressions)
    .where(await where(deps.hash, query, query.cursor))
    .orderBy(asc(suppressions.email))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    suppressions: page.map(suppressionView),
    nextCursor: rows.length > query.limit ? (page.at(-1)?.email ?? null) : null,
  };
}

export const SUPPRESSION_EXPORT_FORMATS = ["csv", "ndjson"] as const;
export type SuppressionExportFormat = (typeof SUPPRESSION_EXPORT_FORMATS)[number];
/** Rows per D1 query while streaming: a 100,000-row export is 25 queries, one page in memory at a time. */
const PAGE_ROWS = 4000;
const CSV_COLUMNS = ["address", "reason", "source", "createdAt"];

/**
 * Streams up to `limit` entries in address order after `cursor`, page by page. Where it ends is
 * fixed first, so the next cursor can go in a header. CSV cells go through the contact export's
 * writer (csvLine: quoting and formula neutralisation); the file imports back as it is.
 */
export async function exportSuppressions(
  deps: { db: Database; hash: KeyedHash },
  query: SuppressionFilter & { format: SuppressionExportFormat; limit: number; cursor?: string },
) {
  const { db } = deps;
  const filter = await where(deps.hash, query, query.cursor);
  const tail = await db
    .select({ email: suppressions.email })
    .from(suppressions)
    .where(filter)
    .orderBy(asc(suppressions.email))
    .limit(2)
    .offset(query.limit - 1);
  const last = tail[0]?.email;
  const nextCursor = tail.length === 2 ? last! : null;

  let after = query.cursor;
  let headerSent = query.format !== "csv";
  let done = false;
  const body = textStream(async () => {
    if (!headerSent) {
      headerSent = true;
      return csvLine(CSV_COLUMNS);
    }
    if (done) return null;
    const page = await db
      .select()
      .from(suppressions)
      .where(and(await where(deps.hash, query, after), last ? sql`${suppressions.email} <= ${last}` : undefined))
      .orderBy(asc(suppressions.email))
      .limit(PAGE_ROWS);
    if (page.length < PAGE_ROWS) done = true;
    if (page.length === 0) return null;
    after = page.at(-1)!.email;
    return page.map((row) => line(query.format, row)).join("");
  });
  return { body, nextCursor };
}

function line(format: SuppressionExportFormat, row: Row): string {
  const entry = suppressionView(row);
  if (format === "ndjson") return `${JSON.stringify(entry)}\n`;
  return csvLine([entry.address, entry.reason, entry.source ?? "", entry.createdAt.toISOString()]);
}
