import type { Deps } from "../composition";
import type { Database } from "../db/client";
import type { RoundTripCounter } from "../db/round-trips";

export type AppEnv = {
  Bindings: Env;
  Variables: { requestId: string; db: Database; deps: Deps; d1RoundTrips: RoundTripCounter };
};
