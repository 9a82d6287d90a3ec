import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { backfillTallies } from "../db/schema";

/** A dry run's outcomes, decided before the batch (nothing is written but these counts), added in it. */
export function tallyStatements(db: Database, jobId: string, outcomes: string[]) {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, n]) =>
    db
      .insert(backfillTallies)
      .values({ jobId, outcome, n })
      .onConflictDoUpdate({
        target: [backfillTallies.jobId, backfillTallies.outcome],
        set: { n: sql`${backfillTallies.n} + excluded.n` },
      }),
  );
}
