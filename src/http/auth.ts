import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { AppError } from "../lib/errors";
import type { AppEnv } from "./app-env";

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

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(.+)$/i);
  return match?.[1]?.trim();
}

export function requireBearer(acceptedKeys: (env: Env) => Array<string | undefined>) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!matchesAnySecret(token, acceptedKeys(c.env))) {
      throw new AppError("UNAUTHORIZED", "Missing or invalid API key");
    }
    await next();
  });
}

export const requireAdminKey = requireBearer((env) => [env.ADMIN_API_KEY]);
export const requireIngestKey = requireBearer((env) => [env.INGEST_API_KEY, env.ADMIN_API_KEY]);

/**
 * Who made an admin change, for the records that say so (a lifted suppression): the admin key is
 * the only identity today; named keys with scopes would put their name here.
 */
export const callerName = (_c: Context<AppEnv>) => "admin";
