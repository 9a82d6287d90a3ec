import { and, gte, lt, type SQL, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { contacts, type SegmentFilter } from "../db/schema";
import type { Condition } from "../journeys/conditions";
import { contactFilter } from "./contacts";

/** `a.b` → `$."a"."b"`: each dotted part is an object key (callers reject parts containing `"`). */
export const jsonPath = (property: string) =>
  `$${property
    .split(".")
    .map((part) => `."${part}"`)
    .join("")}`;

/**
 * The path as a quoted SQL literal rather than a bound parameter: a condition names it up to four
 * times, and D1 allows 100 parameters per statement. Quotes are doubled, so it stays a literal.
 */
const pathLiteral = (property: string) => sql.raw(`'${jsonPath(property).replaceAll("'", "''")}'`);

const NUMBER_TYPES = sql.raw(`('integer', 'real')`);

/** The JSON type the value would have, for type-aware comparisons (null when nothing can equal it). */
function jsonTypeOf(value: unknown): "text" | "number" | "true" | "false" | "null" | null {
  if (typeof value === "string") return "text";
  if (typeof value === "number" && Number.isFinite(value)) return "number";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value === null) return "null";
  return null;
}

/** `type` (a json_type/json_each type column) holds the value's JSON type, and `actual` equals it. */
function sameValue(type: SQL, actual: SQL, value: unknown): SQL {
  switch (jsonTypeOf(value)) {
    case "text":
      return sql`(${type} = 'text' AND ${actual} = ${value})`;
    case "number":
      return sql`(${type} IN ${NUMBER_TYPES} AND ${actual} = ${value})`;
    case "true":
      return sql`(${type} = 'true')`;
    case "false":
      return sql`(${type} = 'false')`;
    case "null":
      return sql`(${type} = 'null')`;
    default:
      return sql`0`; // an object or array is never === a parsed property
  }
}

const OPERATORS = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

function ordered(type: SQL, actual: SQL, op: keyof typeof OPERATORS, value: unknown): SQL {
  const operator = sql.raw(OPERATORS[op]);
  if (typeof value === "number" && Number.isFinite(value)) {
    return sql`(${type} IN ${NUMBER_TYPES} AND ${actual} ${operator} ${value})`;
  }
  if (typeof value === "string") return sql`(${type} = 'text' AND ${actual} ${operator} ${value})`;
  return sql`0`;
}

function contains(props: SQL, path: SQL, type: SQL, actual: SQL, value: unknown): SQL {
  const inArray = sql`(${type} = 'array' AND EXISTS (SELECT 1 FROM json_each(${props}, ${path}) j WHERE ${sameValue(sql`j.type`, sql`j.value`, value)}))`;
  if (typeof value !== "string") return inArray;
  return sql`((${type} = 'text' AND instr(${actual}, ${value}) > 0) OR ${inArray})`;
}

/**
 * A journey condition (src/journeys/conditions.ts) as a SQL expression on a JSON column that is
 * 1 exactly when `conditionHolds` would be true of the parsed properties: the same operators,
 * strict equality by JSON type, ordering only between two numbers or two strings.
 */
export function conditionSql(props: SQL, { property, op, value }: Condition): SQL {
  const path = pathLiteral(property);
  const type = sql`json_type(${props}, ${path})`;
  const actual = sql`json_extract(${props}, ${path})`;
  const present = sql`coalesce(${type}, 'null') <> 'null'`;
  switch (op) {
    case "exists":
      return present;
    case "not_exists":
      return sql`NOT (${present})`;
    case "eq":
      return sql`coalesce(${sameValue(type, actual, value)}, 0)`;
    case "neq":
      return sql`NOT coalesce(${sameValue(type, actual, value)}, 0)`;
    case "contains":
      return sql`coalesce(${contains(props, path, type, actual, value)}, 0)`;
    default:
      return sql`coalesce(${ordered(type, actual, op, value)}, 0)`;
  }
}

/** All conditions hold (true for none), as one SQL expression. */
export function conditionsSql(props: SQL, where: Condition[] = []): SQL {
  if (where.length === 0) return sql`1`;
  return sql`(${sql.join(
    where.map((c) => sql`(${conditionSql(props, c)})`),
    sql` AND `,
  )})`;
}

/** The contacts a segment filter selects, as a WHERE condition on `contacts`. */
export function segmentWhere(filter: SegmentFilter): SQL | undefined {
  return and(
    conditionsSql(sql`${contacts.properties}`, filter.where as Condition[] | undefined),
    contactFilter({ search: filter.search }),
    filter.createdFrom ? gte(contacts.createdAt, new Date(filter.createdFrom)) : undefined,
    filter.createdTo ? lt(contacts.createdAt, new Date(filter.createdTo)) : undefined,
    filter.importJobId ? sql`${contacts.importJobId} = ${filter.importJobId}` : undefined,
  );
}

/** `email`: the entry guards hash it to see an erased person's (hashed) suppression. */
export type SegmentRow = { id: string; externalId: string; email: string | null; triggerMatched: number };

export type SegmentPage = {
  rows: SegmentRow[];
  /** The last contact id the page covered: the next page starts after it. */
  end: string;
  /** No contact after `end` is left to look at. */
  exhausted: boolean;
};

type PageQuery = { filter: SegmentFilter; trigger?: Condition[]; after: string; take: number; scan: number };

/**
 * The next matching contacts after `after`, in id order, looking at no more than `scan` contacts
 * (of the import, when the filter names one), so a sparse filter can't make one page read the
 * whole table. Two reads, one round trip.
 */
export async function segmentPage(db: Database, query: PageQuery): Promise<SegmentPage> {
  // The contacts of one import are walked on their index, so other contacts don't use up the window.
  const domain = query.filter.importJobId ? sql`${contacts.importJobId} = ${query.filter.importJobId}` : sql`1`;
  const windowEnd = sql`(SELECT ${contacts.id} FROM ${contacts} WHERE ${domain} AND ${contacts.id} > ${query.after} ORDER BY ${contacts.id} LIMIT 1 OFFSET ${query.scan - 1})`;
  const [rows, [bounds]] = (await runBatch(db, [
    db
      .select({
        id: contacts.id,
        externalId: contacts.externalId,
        email: contacts.email,
        triggerMatched: sql<number>`${conditionsSql(sql`${contacts.properties}`, query.trigger)}`.as("trigger_matched"),
      })
      .from(contacts)
      .where(
        and(
          sql`${contacts.id} > ${query.after}`,
          sql`(${windowEnd} IS NULL OR ${contacts.id} <= ${windowEnd})`,
          segmentWhere(query.filter),
        ),
      )
      .orderBy(contacts.id)
      .limit(query.take),
    db.all(
      sql`SELECT ${windowEnd} AS "windowEnd", (SELECT max(${contacts.id}) FROM ${contacts} WHERE ${domain}) AS "lastId"`,
    ),
  ])) as [SegmentRow[], Array<{ windowEnd: string | null; lastId: string | null }>];
  const last = rows.at(-1);
  if (last && rows.length === query.take) return { rows, end: last.id, exhausted: false };
  if (bounds?.windowEnd) return { rows, end: bounds.windowEnd, exhausted: bounds.windowEnd === bounds.lastId };
  // The window reached the last contact (ids compare as strings; contacts may have been erased).
  const lastId = bounds?.lastId ?? "";
  if (lastId > query.after) return { rows, end: lastId, exhausted: true };
  return { rows, end: query.after, exhausted: true };
}
