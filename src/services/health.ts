import { getTableName, sql } from "drizzle-orm";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import * as schema from "../db/schema";

const expectedTables = Object.values(schema as Record<string, unknown>)
  .filter((value): value is SQLiteTable => value instanceof SQLiteTable)
  .map((table) => getTableName(table));

export type HealthReport = {
  ok: boolean;
  database: "reachable" | "unreachable";
  migrations: { applied: number; latest: string | null; missingTables: string[] };
};

/** Reachable database, and every table the code expects present (i.e. the migrations applied). */
export async function checkHealth(db: Database): Promise<HealthReport> {
  try {
    const tables = await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'table'`);
    const present = new Set(tables.map((t) => t.name));
    const missingTables = expectedTables.filter((name) => !present.has(name));
    const applied = present.has("d1_migrations")
      ? await db.all<{ name: string }>(sql`SELECT name FROM d1_migrations ORDER BY id`)
      : [];
    return {
      ok: missingTables.length === 0,
      database: "reachable",
      migrations: { applied: applied.length, latest: applied.at(-1)?.name ?? null, missingTables },
    };
  } catch {
    return {
      ok: false,
      database: "unreachable",
      migrations: { applied: 0, latest: null, missingTables: expectedTables },
    };
  }
}
