import { and, asc, lte, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Contact, contacts } from "../db/schema";
import { csvLine } from "../lib/csv";
import { textStream } from "../lib/stream";
import { contactFilter } from "./contacts";

export const EXPORT_FORMATS = ["json", "csv", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type ExportQuery = { format: ExportFormat; search?: string; limit: number; cursor?: string };

/** Rows fetched per D1 query while streaming: memory holds one page, whatever the export size. */
const PAGE_ROWS = 500;

/**
 * Streams up to `limit` contacts (oldest first, after `cursor`) page by page. Where the export ends
 * (its last id, and the next cursor if more follow) is fixed up front so the cursor can go in a
 * header, and CSV's property columns are the keys present in exactly those rows.
 */
export async function exportContacts(db: Database, query: ExportQuery) {
  const filter = (cursor?: string) => contactFilter({ search: query.search, cursor }) ?? sql`1 = 1`;
  const tail = await db.all<{ id: string }>(
    sql`SELECT ${contacts.id} AS id FROM ${contacts} WHERE ${filter(query.cursor)} ORDER BY ${contacts.id} LIMIT 2 OFFSET ${query.limit - 1}`,
  );
  const lastId = tail[0]?.id;
  const nextCursor = tail.length === 2 ? lastId! : null;

  const propertyKeys =
    query.format === "csv"
      ? (
          await db.all<{ key: string }>(
            sql`SELECT DISTINCT j.key AS key
                FROM (SELECT ${contacts.properties} AS properties FROM ${contacts} WHERE ${filter(query.cursor)}
                      ORDER BY ${contacts.id} LIMIT ${query.limit}) AS c, json_each(c.properties) AS j
                ORDER BY j.key`,
          )
        ).map((r) => r.key)
      : [];

  let after = query.cursor;
  let remaining = query.limit;
  const nextPage = async (): Promise<Contact[] | null> => {
    if (remaining <= 0) return null;
    const page = await db
      .select()
      .from(contacts)
      .where(and(filter(after), lastId ? lte(contacts.id, lastId) : undefined))
      .orderBy(asc(contacts.id))
      .limit(Math.min(PAGE_ROWS, remaining));
    if (page.length === 0) return null;
    remaining = page.length < Math.min(PAGE_ROWS, remaining) ? 0 : remaining - page.length;
    after = page.at(-1)!.id;
    return page;
  };

  return { nextCursor, body: render(query.format, nextPage, propertyKeys, nextCursor) };
}

function render(
  format: ExportFormat,
  nextPage: () => Promise<Contact[] | null>,
  keys: string[],
  nextCursor: string | null,
) {
  let started = false;
  let ended = false;
  // Dates serialise to ISO strings: the same contact shape as GET /v1/admin/contacts/:id.
  const json = (row: Contact) => JSON.stringify(row);
  return textStream(async () => {
    if (ended) return null;
    const opening = started
      ? null
      : format === "csv"
        ? csvLine(["externalId", "email", ...keys])
        : format === "json"
          ? '{"contacts":['
          : "";
    const page = await nextPage();
    let text: string;
    if (format === "csv") text = (page ?? []).map((row) => csvLine(csvCells(row, keys))).join("");
    else if (format === "ndjson") text = (page ?? []).map((row) => `${json(row)}\n`).join("");
    else text = (page ?? []).map((row, i) => (started || i > 0 ? "," : "") + json(row)).join("");
    if (page === null) {
      ended = true;
      if (format === "json") text += `],"nextCursor":${JSON.stringify(nextCursor)}}`;
    }
    const out = (opening ?? "") + text;
    started = true;
    return out;
  });
}

function csvCells(row: Contact, keys: string[]): string[] {
  return [row.externalId, row.email ?? "", ...keys.map((key) => cellText(row.properties[key]))];
}

/** Strings as they are; other values (numbers, booleans, objects) as JSON; absent or null empty. */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
