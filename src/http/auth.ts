import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { AppError } from "../lib/errors";
import { type Principal, verifyStoredKey } from "../services/api-keys/verify";
import type { AppEnv } from "./app-env";
import { internalPrincipal } from "./internal-principal";
import { clientIp, type LimiterName, limitOrThrow } from "./rate-limit";

const encoder = new TextEncoder();

/**
 * Workers' constant-time compare (`crypto.subtle.timingSafeEqual`) needs equal lengths; on a length
 * mismatch the presented value is compared with itself so the time spent doesn't depend on the secret.
 * (Hono's helper hashes both sides with SHA-256 first: four digests per ingest request.)
 */
function constantTimeEquals(presented: Uint8Array, secret: Uint8Array): boolean {
  if (presented.byteLength !== secret.byteLength) return !crypto.subtle.timingSafeEqual(presented, presented);
  return crypto.subtle.timingSafeEqual(presented, secret);
}

/** Constant-time comparison of a presented secret against each accepted one. */
export function matchesAnySecret(presented: string | undefined, accepted: Array<string | undefined>): boolean {
  if (!presented) return false;
  const bytes = encoder.encode(presented);
  let matched = false;
  for (const secret of accepted) {
    // Compare against every configured secret so timing doesn't reveal which one matched.
    if (secret && constantTimeEquals(bytes, encoder.encode(secret))) matched = true;
  }
  return matched;
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

/** ADMIN_API_KEY and INGEST_API_KEY, unless BOOTSTRAP_KEYS = "off" (once stored keys exist). */
export function bootstrapPrincipal(env: Env, token: string): Principal | null {
  if (env.BOOTSTRAP_KEYS === "off") return null;
  if (matchesAnySecret(token, [env.ADMIN_API_KEY]))
    return { id: "bootstrap-admin", name: "ADMIN_API_KEY", scopes: ["admin"] };
  if (matchesAnySecret(token, [env.INGEST_API_KEY])) {
    return { id: "bootstrap-ingest", name: "INGEST_API_KEY", scopes: ["ingest"] };
  }
  return null;
}

/**
 * A request whose key isn't known from memory (a bootstrap key, or a stored key this isolate
 * verified in the last 30 s) is charged to its IP on `limiter` before any D1 lookup or 401: a burst
 * of made-up keys costs limiter calls, not queries.
 */
async function chargeUnverified(c: Context<AppEnv>, limiter: LimiterName) {
  const ip = clientIp(c);
  if (ip !== null) await limitOrThrow(c, limiter, `unverified:${ip}`);
}

/** The principal behind the bearer token (`c.var.principal`), or 401. */
export async function principalOf(c: Context<AppEnv>, limiter: LimiterName): Promise<Principal> {
  const internal = internalPrincipal(c.req.raw);
  if (internal) return internal;
  let charged = false;
  const charge = async () => {
    if (charged) return;
    charged = true;
    await chargeUnverified(c, limiter);
  };
  const token = bearerToken(c.req.header("authorization"));
  const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const principal =
    token === undefined
      ? null
      : (bootstrapPrincipal(c.env, token) ??
        (await verifyStoredKey({ db: c.var.db, waitUntil, beforeLookup: charge }, token)));
  if (!principal) {
    await charge();
    throw new AppError("UNAUTHORIZED", "Missing or invalid API key");
  }
  return principal;
}

export function authenticate(limiter: LimiterName) {
  return createMiddleware<AppEnv>(async (c, next) => {
    c.set("principal", await principalOf(c, limiter));
    await next();
  });
}

/** Who made an admin change, for the records that say so (a lifted suppression): the key's name. */
export const callerName = (c: Context<AppEnv>) => c.get("principal")?.name ?? "admin";
