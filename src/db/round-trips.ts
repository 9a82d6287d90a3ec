/**
 * Wraps a D1 binding to count round trips (each statement execution, each batch, each exec).
 * Reported per request in the `X-D1-Round-Trips` header and the request log line, so tests and
 * benchmarks can check that bulk operations stay constant in D1 round trips.
 */
export type RoundTripCounter = { count: number };

const EXECUTORS = new Set(["first", "all", "run", "raw"]);

export function countRoundTrips(d1: D1Database, counter: RoundTripCounter): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();

  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (EXECUTORS.has(String(prop))) {
          return (...args: unknown[]) => {
            counter.count += 1;
            return value.apply(target, args);
          };
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
        return (statements: D1PreparedStatement[]) => {
          counter.count += 1;
          return target.batch(statements.map((s) => originals.get(s) ?? s));
        };
      }
      if (prop === "exec") {
        return (query: string) => {
          counter.count += 1;
          return target.exec(query);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
