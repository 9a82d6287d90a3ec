import { createDb } from "../db/client";
import type { DeliveryDeps } from "../services/emails";
import { providerFromEnv } from "./providers";

/** Everything email delivery needs, from the Worker's bindings. */
export function deliveryDepsFromEnv(env: Env): DeliveryDeps {
  return {
    db: createDb(env.DB),
    provider: providerFromEnv(env),
    from: env.EMAIL_FROM,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    tokenSecret: env.TOKEN_SIGNING_SECRET,
  };
}
