import { type BatchStatement, type Database, runBatch } from "./client";

/**
 * Statements that go into one D1 batch together with the function that reads their results.
 * Plans compose (`runPlans`, `sequence`), so no caller counts result offsets by hand.
 */
export type BatchPlan<T> = { statements: BatchStatement[]; decode(results: unknown[]): T };

export const plan = <T>(statements: BatchStatement[], decode: (results: unknown[]) => T): BatchPlan<T> => ({
  statements,
  decode,
});

/** Statements whose results nobody reads (writes). */
export const writes = (statements: BatchStatement[]): BatchPlan<void> => plan(statements, () => undefined);

/** Statements that each return rows, read back as one list. */
export const rows = <R>(statements: BatchStatement[]): BatchPlan<R[]> =>
  plan(statements, (results) => (results as R[][]).flat());

type Decoded<P> = { [K in keyof P]: P[K] extends BatchPlan<infer T> ? T : never };

/** Several plans as one, in order; decodes to the tuple of their results. */
export function sequence<const P extends readonly BatchPlan<unknown>[]>(...plans: P): BatchPlan<Decoded<P>> {
  return plan(
    plans.flatMap((p) => p.statements),
    (results) => {
      let offset = 0;
      return plans.map((p) => {
        const own = results.slice(offset, offset + p.statements.length);
        offset += p.statements.length;
        return p.decode(own);
      }) as Decoded<P>;
    },
  );
}

/** Runs plans in one D1 round trip (one transaction) and decodes each plan's results. */
export async function runPlans<const P extends readonly BatchPlan<unknown>[]>(
  db: Database,
  ...plans: P
): Promise<Decoded<P>> {
  const combined = sequence(...plans);
  return combined.decode(await runBatch(db, combined.statements));
}

/**
 * D1 counts every statement of a batch against its queries per Worker invocation (1000 on Workers
 * Paid): what an invocation may still spend. A write takes its statements from it before it runs.
 */
export type StatementBudget = { remaining: number };

export class StatementBudgetExceeded extends Error {
  constructor(
    readonly needed: number,
    readonly remaining: number,
  ) {
    super(`a D1 batch of ${needed} statements, with ${remaining} left in this invocation`);
  }
}

/** Takes `plan`'s statements from `budget`, or throws StatementBudgetExceeded (nothing taken). */
export function spend(budget: StatementBudget | undefined, planned: BatchPlan<unknown>) {
  if (!budget) return;
  const needed = planned.statements.length;
  if (needed > budget.remaining) throw new StatementBudgetExceeded(needed, budget.remaining);
  budget.remaining -= needed;
}
