import { and, asc, getTableColumns, lte, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Contact, contacts } from "../db/schema";
import { csvLine } from "../lib/csv";
import { textStream } from "../lib/stream";
import { contactFilter } from "./contacts";
import { TOPIC_CHOICES, topicCells, topicColumns } from "./topic-export";

export const EXPORT_FORMATS = ["json", "csv", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type ExportQuery = { format: ExportFormat; search?: string; limit: number; cursor?: string };

/** Rows fetched per D1 query while streaming: memory holds one page, whatever the export size. */
const PAGE_ROWS = 500;

/**
 * CSV property columns at most: one contact with hundreds of keys would otherwise widen every
 * row of the file. The most common keys get columns; the others of each row go, as one JSON
 * object, into the last column (OTHER_PROPERTIES_COLUMN). JSON and NDJSON carry every property.
 */
export const EXPORT_MAX_PROPERTY_COLUMNS = 200;
export const OTHER_PROPERTIES_COLUMN = "otherProperties";

/** The property keys that get a CSV column (by name), whether other keys exist, and the topics chosen. */
type Columns = { keys: string[]; others: boolean; topics: string[] };
const NO_COLUMNS: Columns = { keys: [], others: false, topics: [] };

/**
 * One row per person: the contact, the other ids they are known by (an email key, merged ids,
 * PostHog ids) and their explicit topic choices (`{"product-updates": false}`).
 */
type Exported = Contact & { aliases: string[]; topics: Record<string, boolean> };

/** The most common keys among the exported rows (ties by name), sorted by name. */
async function propertyColumns(db: Database, where: SQL, limit: number): Promise<Columns> {
  const common = await db.all<{ key: string }>(
    sql`SELECT j.key AS key
        FROM (SELECT ${contacts.properties} AS properties FROM ${contacts} WHERE ${where}
              ORDER BY ${contacts.id} LIMIT ${limit}) AS c, json_each(c.properties) AS j
        GROUP BY j.key ORDER BY count(*) DESC, j.key LIMIT ${EXPORT_MAX_PROPERTY_COLUMNS + 1}`,
  );
  const keys = common.slice(0, EXPORT_MAX_PROPERTY_COLUMNS).map((r) => r.key);
  const topics = await topicColumns(db, where, limit);
  return { keys: keys.sort(), others: common.length > EXPORT_MAX_PROPERTY_COLUMNS, topics };
}

/**
 * Streams up to `limit` contacts (oldest first, after `cursor`) page by page. Where the export ends
 * (its last id, and the next cursor if more follow) is fixed up front so the cursor can go in a
 * header, and CSV's property columns are the keys present in exactly those rows (at most
 * EXPORT_MAX_PROPERTY_COLUMNS of them).
 */
export async function exportContacts(db: Database, query: ExportQuery) {
  const filter = (cursor?: string) => contactFilter({ search: query.search, cursor }) ?? sql`1 = 1`;
  const tail = await db.all<{ id: string }>(
    sql`SELECT ${contacts.id} AS id FROM ${contacts} WHERE ${filter(query.cursor)} ORDER BY ${contacts.id} LIMIT 2 OFFSET ${query.limit - 1}`,
  );
  const lastId = tail[0]?.id;
  const nextCursor = tail.length === 2 ? lastId! : null;

  const columns = query.format === "csv" ? await propertyColumns(db, filter(query.cursor), query.limit) : NO_COLUMNS;
  let after = query.cursor;
  let remaining = query.limit;
  const nextPage = async (): Promise<Exported[] | null> => {
    if (remaining <= 0) return null;
    const rows = await db
      .select({ ...EXPORTED, topics: TOPIC_CHOICES })
      .from(contacts)
      .where(and(filter(after), lastId ? lte(contacts.id, lastId) : undefined))
      .orderBy(asc(contacts.id))
      .limit(Math.min(PAGE_ROWS, remaining));
    if (rows.length === 0) return null;
    const page = rows.map((row) => ({ ...row, topics: JSON.parse(row.topics ?? "{}") as Record<string, boolean> }));
    remaining = page.length < Math.min(PAGE_ROWS, remaining) ? 0 : remaining - page.length;
    after = page.at(-1)!.id;
    return page;
  };

  return { nextCursor, body: render(query.format, nextPage, columns, nextCursor) };
}

const EXPORTED = {
  ...getTableColumns(contacts),
  aliases: sql<string[]>`(SELECT json_group_array(alias) FROM (SELECT alias FROM contact_aliases
    WHERE contact_id = ${contacts.id} ORDER BY alias))`.mapWith((json: string) => JSON.parse(json) as string[]),
};

function render(
  format: ExportFormat,
  nextPage: () => Promise<Exported[] | null>,
  columns: Columns,
  nextCursor: string | null,
) {
  const keys = columns.keys;
  const header = [
    "externalId",
    "email",
    "aliases",
    ...keys,
    ...(columns.others ? [OTHER_PROPERTIES_COLUMN] : []),
    ...columns.topics.map((t) => `topic:${t}`),
  ];
  let started = false;
  let ended = false;
  // Dates serialise to ISO strings: the same contact shape as GET /v1/admin/contacts/:id.
  const json = (row: Exported) => JSON.stringify(row);
  return textStream(async () => {
    if (ended) return null;
    const opening = started ? null : format === "csv" ? csvLine(header) : format === "json" ? '{"contacts":[' : "";
    const page = await nextPage();
    let text: string;
    if (format === "csv") text = (page ?? []).map((row) => csvLine(csvCells(row, columns))).join("");
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

function csvCells(row: Exported, { keys, others, topics }: Columns): string[] {
  const aliases = row.aliases.length > 0 ? JSON.stringify(row.aliases) : "";
  const cells = [row.externalId, row.email ?? "", aliases, ...keys.map((key) => cellText(row.properties[key]))];
  const inColumns = new Set(keys);
  const rest = Object.entries(row.properties).filter(([key]) => !inColumns.has(key));
  const other = others ? [rest.length > 0 ? JSON.stringify(Object.fromEntries(rest)) : ""] : [];
  return [...cells, ...other, ...topicCells(row.topics, topics)];
}

/** Strings as they are; other values (numbers, booleans, objects) as JSON; absent or null empty. */
function cellText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
