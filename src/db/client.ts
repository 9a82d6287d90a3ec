import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Database = ReturnType<typeof createDb>;

type BatchStatement = BatchItem<"sqlite">;

/** One D1 round trip for any number of statements, atomically; a no-op for none. */
export async function runBatch(db: Database, statements: BatchStatement[]) {
  if (statements.length === 0) return [];
  return db.batch(statements as [BatchStatement, ...BatchStatement[]]);
}
