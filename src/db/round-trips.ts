/**
 * Counts D1 round trips (each statement execution, each batch, each exec) and the time spent
 * waiting for them. Reported per request in the `X-D1-Round-Trips` header and the request log line
 * (and per queue batch), so tests and benchmarks can check that bulk operations stay constant in D1
 * round trips, and see what D1 costs per event.
 */
export type RoundTripCounter = {
  count: number;
  waitedMs: number;
  /** Statements executed (a batch counts each of its own), and D1's own `meta.rows_read`/`rows_written`. */
  statements: number;
  rowsRead: number;
  rowsWritten: number;
};

export const newRoundTripCounter = (): RoundTripCounter => ({
  count: 0,
  waitedMs: 0,
  statements: 0,
  rowsRead: 0,
  rowsWritten: 0,
});

type Meta = { rows_read?: number; rows_written?: number };

/** Adds what one round trip's answer says it cost (`first`/`raw` answers carry no meta: counted as statements only). */
function addCost(counter: RoundTripCounter, answer: unknown, statements: number) {
  counter.statements += statements;
  for (const result of Array.isArray(answer) ? answer : [answer]) {
    const meta = (result as { meta?: Meta } | null)?.meta;
    counter.rowsRead += meta?.rows_read ?? 0;
    counter.rowsWritten += meta?.rows_written ?? 0;
  }
}

/** What runs each round trip (of `statements` statements): it must call `run` once and answer with its result. */
export type RoundTripHook = <T>(run: () => Promise<T>, statements: number) => Promise<T>;

const EXECUTORS = new Set(["first", "all", "run", "raw"]);

/**
 * A D1 binding whose every round trip goes through `around` (counting here; the ingest bench's
 * far-from-the-database Worker adds a delay with it).
 */
export function aroundRoundTrips(d1: D1Database, around: RoundTripHook): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();

  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (EXECUTORS.has(String(prop))) {
          return (...args: unknown[]) => around(() => value.apply(target, args), 1);
        }
        return value.bind(target);
      },
    });
    originals.set(proxy, statement);
    return proxy;
  };

  return new Proxy(d1, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "prepare") return (query: string) => wrap(target.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) =>
          around(() => target.batch(statements.map((s) => originals.get(s) ?? s)), statements.length);
      }
      if (prop === "exec") {
        return (query: string) => around(() => target.exec(query), 1);
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export function countRoundTrips(d1: D1Database, counter: RoundTripCounter): D1Database {
  // A Worker's clock only moves across I/O, so this is the wait for D1, not the Worker's own CPU.
  return aroundRoundTrips(d1, async (run, statements) => {
    counter.count += 1;
    const started = Date.now();
    try {
      const answer = await run();
      // A raw answer's rows are arrays, not results: only a batch's and run/all's answers have meta.
      addCost(counter, answer, statements);
      return answer;
    } finally {
      counter.waitedMs += Date.now() - started;
    }
  });
}
