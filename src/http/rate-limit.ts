import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { AppError } from "../lib/errors";
import { unsubscribeSecrets, verifyUnsubscribeToken } from "../lib/tokens";
import type { AppEnv } from "./app-env";

export type LimiterName = "RATE_LIMIT_PUBLIC" | "RATE_LIMIT_WEBHOOKS" | "RATE_LIMIT_INGEST";

/** The `period` of each binding in wrangler.toml: the longest a refused caller waits for a new window. */
export const RATE_LIMIT_PERIOD_SECONDS: Record<LimiterName, number> = {
  RATE_LIMIT_PUBLIC: 60,
  RATE_LIMIT_WEBHOOKS: 10,
  RATE_LIMIT_INGEST: 10,
};

/**
 * The caller's address as Cloudflare's edge sets it (a client can't forge it there). Without it the
 * request did not come from the internet (a service binding, the test runtime), so it isn't limited.
 */
export const clientIp = (c: Context<AppEnv>) => c.req.header("cf-connecting-ip") ?? null;

/** A secret as a limiter key, without the secret itself in the limiter: the first 128 bits of its SHA-256. */
async function hashedKey(prefix: string, secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
  return `${prefix}:${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Per verified key (after `authenticate`): whatever token was presented doesn't pick the bucket. */
export function verifiedKeyBucket(c: Context<AppEnv>): string | null {
  const principal = c.get("principal");
  return clientIp(c) === null || !principal ? null : `key:${principal.id}`;
}

/**
 * Per unsubscribe link: mail providers send one-click POSTs for many recipients from a few shared
 * IPs. A link that doesn't verify (checked without D1) counts against the IP instead, so guessing
 * tokens can't spread over fresh buckets.
 */
export async function unsubscribeBucket(c: Context<AppEnv>): Promise<string | null> {
  const ip = clientIp(c);
  const token = c.req.query("token");
  if (ip === null || !token) return ip;
  if (!(await verifyUnsubscribeToken(unsubscribeSecrets(c.env), token))) return ip;
  return hashedKey("unsubscribe", token);
}

/**
 * Throws 429 (the error shape, `Retry-After`) once `key` has used up its limit on the binding.
 * `RATE_LIMITS = "off"` turns every limiter off (benchmarks measure capacity, not the policy).
 */
export async function limitOrThrow(c: Context<AppEnv>, binding: LimiterName, key: string): Promise<void> {
  if (c.env.RATE_LIMITS === "off") return;
  const { success } = await c.env[binding].limit({ key });
  if (success) return;
  c.header("Retry-After", String(RATE_LIMIT_PERIOD_SECONDS[binding]));
  throw new AppError("RATE_LIMITED", "Too many requests: slow down and retry after Retry-After seconds");
}

/** `limitOrThrow` as middleware, keyed by `keyOf` (null: not limited). */
export function rateLimit(
  binding: LimiterName,
  keyOf: (c: Context<AppEnv>) => string | null | Promise<string | null> = clientIp,
) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = await keyOf(c);
    if (key !== null) await limitOrThrow(c, binding, key);
    return next();
  });
}
