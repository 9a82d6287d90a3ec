import type { Database } from "../db/client";

export type AppEnv = {
  Bindings: Env;
  Variables: { requestId: string; db: Database };
};
