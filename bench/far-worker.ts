// Bench-only Worker entry (never deployed, not imported by src/): the real Worker with its D1
// binding wrapped so every round trip (a statement's first/all/run/raw, a batch, an exec) waits a
// fixed FAR_D1_DELAY_MS first, as if the database's primary were far from the caller. Started by
// `npm run bench:ingest` through a generated config whose `main` is this file.
import worker from "../src/index";

export { JourneyWorkflow } from "../src/index";

const DELAY_MS = 50;
const EXECUTORS = new Set(["first", "all", "run", "raw"]);
const later = async <T>(run: () => T): Promise<Awaited<T>> => {
  await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  return await run();
};

function far(d1: D1Database): D1Database {
  const originals = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, prop) {
        if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (EXECUTORS.has(String(prop))) return (...args: unknown[]) => later(() => value.apply(target, args));
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
          later(() => target.batch(statements.map((s) => originals.get(s) ?? s)));
      }
      if (prop === "exec") return (query: string) => later(() => target.exec(query));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const withFarDb = (env: Env): Env => ({ ...env, DB: far(env.DB) });

export default {
  fetch: (request, env, ctx) => worker.fetch(request, withFarDb(env), ctx),
  queue: (batch, env, ctx) => worker.queue(batch, withFarDb(env), ctx),
  scheduled: (controller, env, ctx) => worker.scheduled(controller, withFarDb(env), ctx),
} satisfies ExportedHandler<Env>;
