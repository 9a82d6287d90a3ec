import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";

/**
 * No relational schema: nothing uses `db.query`, and drizzle would rebuild its relational config
 * on every call (about a tenth of a small request's CPU, measured with the inspector's profiler).
 */
export function createDb(d1: D1Database) {
  return drizzle(d1);
}

export type Database = ReturnType<typeof createDb>;

export type BatchStatement = BatchItem<"sqlite">;

type PreparedForBatch = {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(result: unknown, isFromBatch: boolean): unknown;
};

/**
 * drizzle's private `_prepare()` → `{ getQuery(), mapResult() }`, checked on every call so a drizzle
 * upgrade that changes it fails with this message instead of a wrong result
 * (test/run-batch.test.ts pins the behaviour).
 */
function prepareForBatch(statement: BatchStatement): PreparedForBatch {
  const prepare = (statement as unknown as { _prepare?: () => Partial<PreparedForBatch> })._prepare;
  const prepared = typeof prepare === "function" ? prepare.call(statement) : undefined;
  if (typeof prepared?.getQuery !== "function" || typeof prepared.mapResult !== "function") {
    throw new Error("runBatch: drizzle's _prepare()/getQuery()/mapResult() changed; see src/db/client.ts");
  }
  return prepared as PreparedForBatch;
}

/**
 * One D1 round trip for any number of statements, atomically; a no-op for none.
 *
 * Same as drizzle's `db.batch`, except each statement is prepared from its SQL text: drizzle's own
 * batch fails on raw `db.all(sql\`…\`)` queries that have parameters (their prepared form carries no
 * D1 statement), and the entry guards are raw SQL. Like drizzle's, it maps a select's rows from
 * D1's column-keyed objects, so computed columns need distinct aliases (`.as(...)`), and a join
 * must not return two columns of one name.
 */
export async function runBatch(db: Database, statements: BatchStatement[]): Promise<unknown[]> {
  if (statements.length === 0) return [];
  const prepared = statements.map(prepareForBatch);
  const d1 = db.$client;
  const results = await d1.batch(
    prepared.map((p) => {
      const query = p.getQuery();
      return d1.prepare(query.sql).bind(...query.params);
    }),
  );
  return results.map((result, i) => prepared[i]!.mapResult(result, true));
}

/**
 * Whether a D1 failure (or drizzle's "Failed query" wrapping it, the cause) carries this SQLite
 * message: how a guard that fails its statement on purpose (a NOT NULL it refuses) is told apart.
 */
export const failedWith = (err: unknown, message: string): boolean =>
  err instanceof Error && `${err.message} ${String(err.cause ?? "")}`.includes(message);
