import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { AppError } from "../lib/errors";
import type { AppEnv } from "./app-env";

/** Constant-time comparison of a presented secret against each accepted one (hono hashes both sides). */
export async function matchesAnySecret(presented: string | undefined, accepted: Array<string | undefined>) {
  if (!presented) return false;
  let matched = false;
  for (const secret of accepted) {
    // Compare against every configured secret so timing doesn't reveal which one matched.
    if (secret && (await timingSafeEqual(presented, secret))) matched = true;
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
    if (!(await matchesAnySecret(token, acceptedKeys(c.env)))) {
      throw new AppError("UNAUTHORIZED", "Missing or invalid API key");
    }
    await next();
  });
}

export const requireAdminKey = requireBearer((env) => [env.ADMIN_API_KEY]);
export const requireIngestKey = requireBearer((env) => [env.INGEST_API_KEY, env.ADMIN_API_KEY]);
