import type { Database } from "../../db/client";
import type { ApiKeyScope } from "../../db/schema";
import { errorFields, log } from "../../lib/log";
import { findApiKeyByHash, findApiKeyRow, hashKey, isKeyShaped, touchLastUsed } from "./store";

/** Who a request acts as: a stored key, or a bootstrap key from the environment. */
export type Principal = { id: string; name: string; scopes: ApiKeyScope[] };

/**
 * Each scope includes the ones it lists: `admin` is everything, `operate` (bulk work) includes
 * `read`, so a migration script can poll what it started; `ingest` stands alone.
 */
const INCLUDES: Record<ApiKeyScope, ApiKeyScope[]> = {
  admin: ["admin", "operate", "read", "ingest"],
  operate: ["operate", "read"],
  read: ["read"],
  ingest: ["ingest"],
};

export const grants = (held: ApiKeyScope[], needed: ApiKeyScope) =>
  held.some((scope) => INCLUDES[scope].includes(needed));

/**
 * Per isolate, by the presented token (D1 is asked by its hash). A verification is fresh for 30 s;
 * a verified key then keeps being answered from memory while one request re-checks it in D1 after
 * its response, so a warm key never waits on D1, and never past KEY_CACHE_MAX_AGE_MS from its
 * last check: a revoked key is refused everywhere within the 60 s the API promises (the revoking
 * isolate forgets it at once). A refused token is remembered for 30 s.
 */
export const KEY_CACHE_TTL_MS = 30_000;
/** Past this a verification is no longer used at all: the request waits for D1. */
export const KEY_CACHE_MAX_AGE_MS = 55_000;
const KEY_CACHE_MAX_ENTRIES = 1000;
/** last-used moves on at most this often per key. */
export const LAST_USED_EVERY_MS = 60_000;

type Cached = { principal: Principal | null; fresh: number; until: number; refreshing?: boolean };
const cache = new Map<string, Cached>();
/** Lookups in flight, by token: a burst of first requests with one key costs one D1 query. */
const inFlight = new Map<string, Promise<Principal | null>>();

function remember(token: string, entry: Cached) {
  cache.delete(token);
  // Oldest first (insertion order): bounded, so a flood of made-up keys can't grow the isolate.
  if (cache.size >= KEY_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(token, entry);
}

export type VerifyDeps = {
  db: Database;
  /** Runs work after the response (a re-check, the last-used write); awaited inline when absent. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * Runs before a D1 lookup (a key not in this isolate's memory) and throws to refuse it (a rate
   * limiter's 429), so a burst of made-up keys can't each cost a query.
   */
  beforeLookup?: () => Promise<void>;
};

async function lookUp(deps: VerifyDeps, token: string, now: number): Promise<Principal | null> {
  const row = await findApiKeyByHash(deps.db, await hashKey(token));
  const expiresAt = row?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const live = row && row.revokedAt === null && expiresAt > now;
  const principal = live ? { id: row.id, name: row.name, scopes: row.scopes } : null;
  const fresh = Math.min(now + KEY_CACHE_TTL_MS, expiresAt);
  remember(token, { principal, fresh, until: principal ? Math.min(now + KEY_CACHE_MAX_AGE_MS, expiresAt) : fresh });
  if (live && (row.lastUsedAt === null || row.lastUsedAt.getTime() <= now - LAST_USED_EVERY_MS)) {
    const touch = touchLastUsed(deps.db, row.id, new Date(now), LAST_USED_EVERY_MS);
    if (deps.waitUntil) deps.waitUntil(touch);
    else await touch;
  }
  return principal;
}

function sharedLookUp(deps: VerifyDeps, token: string, now: number): Promise<Principal | null> {
  let pending = inFlight.get(token);
  if (!pending) {
    pending = lookUp(deps, token, now).finally(() => inFlight.delete(token));
    inFlight.set(token, pending);
  }
  return pending;
}

/** The stored key's principal, or null for anything that isn't a live stored key. */
export async function verifyStoredKey(deps: VerifyDeps, token: string, now = Date.now()): Promise<Principal | null> {
  // The warm path is this Map lookup and nothing else: no regex, no digest, no D1.
  const hit = cache.get(token);
  if (hit && hit.fresh > now) return hit.principal;
  if (hit?.principal && hit.until > now && deps.waitUntil) {
    if (!hit.refreshing) {
      hit.refreshing = true;
      const recheck = sharedLookUp(deps, token, now)
        .catch((error: unknown) => log.warn("api key re-check failed; the next request retries", errorFields(error)))
        .finally(() => {
          hit.refreshing = false;
        });
      deps.waitUntil(recheck);
    }
    return hit.principal;
  }
  if (!isKeyShaped(token)) return null;
  await deps.beforeLookup?.();
  return sharedLookUp(deps, token, now);
}

/** This isolate stops accepting the key at once (others within KEY_CACHE_MAX_AGE_MS). */
export function forgetKey(id: string) {
  for (const [token, entry] of cache) if (entry.principal?.id === id) cache.delete(token);
}

/**
 * The stored key's principal by its id while it is live (not revoked, not expired), else null: how
 * a console session, which holds the key id and never the key, re-checks its key.
 */
export async function liveKeyById(db: Database, id: string, now = Date.now()): Promise<Principal | null> {
  const row = await findApiKeyRow(db, id);
  const live = row && row.revokedAt === null && (row.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) > now;
  return live ? { id: row.id, name: row.name, scopes: row.scopes } : null;
}
