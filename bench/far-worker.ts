// Bench-only Worker entry (never deployed, not imported by src/): the real Worker with its D1
// binding wrapped so every round trip (a statement's first/all/run/raw, a batch, an exec) waits a
// fixed DELAY_MS first, as if the database's primary were far from the caller. Started by
// `npm run bench:ingest` through a generated config whose `main` is this file.
import { aroundRoundTrips } from "../src/db/round-trips";
import worker from "../src/index";

export { JourneyWorkflow } from "../src/index";

const DELAY_MS = 50;

const far = (d1: D1Database) =>
  aroundRoundTrips(d1, async (run) => {
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    return run();
  });

const withFarDb = (env: Env): Env => ({ ...env, DB: far(env.DB) });

export default {
  fetch: (request, env, ctx) => worker.fetch(request, withFarDb(env), ctx),
  queue: (batch, env) => worker.queue(batch, withFarDb(env)),
  scheduled: (controller, env, ctx) => worker.scheduled(controller, withFarDb(env), ctx),
} satisfies ExportedHandler<Env>;
