import type { Deps } from "../composition";
import type { Database } from "../db/client";
import type { RoundTripCounter } from "../db/round-trips";
import type { Principal } from "../services/api-keys/verify";
import type { AuditDraft } from "../services/audit-log";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    db: Database;
    deps: Deps;
    d1RoundTrips: RoundTripCounter;
    /** Who the request acts as, once `authenticate` has run (admin and ingest routes). */
    principal?: Principal;
    /** An `audit: "batch"` operation's entry, for its service to write in the change's own batch. */
    audit?: AuditDraft;
  };
};
