import type { Database } from "../../db/client";
import type { ApiKeyScope } from "../../db/schema";
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
 * Per isolate, by the presented token (D1 is asked by its hash): a verified key (or a refused one) is answered from memory for at most
 * 30 s, so a warm isolate costs ingest no D1 round trip and a revoked key is refused everywhere
 * within the 60 s the API promises (the revoking isolate forgets it at once).
 */
export const KEY_CACHE_TTL_MS = 30_000;
const KEY_CACHE_MAX_ENTRIES = 1000;
/** last-used moves on at most this often per key. */
export const LAST_USED_EVERY_MS = 60_000;

type Cached = { principal: Principal | null; until: number };
const cache = new Map<string, Cached>();

function remember(token: string, entry: Cached) {
  cache.delete(token);
  // Oldest first (insertion order): bounded, so a flood of made-up keys can't grow the isolate.
  if (cache.size >= KEY_CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(token, entry);
}

export type VerifyDeps = {
  db: Database;
  /** Runs work after the response (the last-used write); awaited inline when absent. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * Runs before a D1 lookup (a key not in this isolate's memory) and throws to refuse it (a rate
   * limiter's 429), so a burst of made-up keys can't each cost a query.
   */
  beforeLookup?: () => Promise<void>;
};

/** The stored key's principal, or null for anything that isn't a live stored key. */
export async function verifyStoredKey(deps: VerifyDeps, token: string, now = Date.now()): Promise<Principal | null> {
  if (!isKeyShaped(token)) return null;
  // Keyed by the token itself: a warm request costs a Map lookup, not a SHA-256 digest.
  const hit = cache.get(token);
  if (hit && hit.until > now) return hit.principal;
  const hash = await hashKey(token);
  await deps.beforeLookup?.();
  const row = await findApiKeyByHash(deps.db, hash);
  const expiresAt = row?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const live = row && row.revokedAt === null && expiresAt > now;
  const principal = live ? { id: row.id, name: row.name, scopes: row.scopes } : null;
  remember(token, { principal, until: Math.min(now + KEY_CACHE_TTL_MS, expiresAt) });
  if (live && (row.lastUsedAt === null || row.lastUsedAt.getTime() <= now - LAST_USED_EVERY_MS)) {
    const touch = touchLastUsed(deps.db, row.id, new Date(now), LAST_USED_EVERY_MS);
    if (deps.waitUntil) deps.waitUntil(touch);
    else await touch;
  }
  return principal;
}

/** This isolate stops accepting the key at once (others within KEY_CACHE_TTL_MS). */
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
