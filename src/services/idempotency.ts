import { chunk } from "../lib/chunk";

/**
 * The KV fast path for idempotency keys. KV is eventually consistent and has no compare-and-set,
 * so it only ever short-circuits keys already known; the D1 unique index stays the real guard.
 */
const KV_BULK_GET_MAX = 100;
const KV_MIN_TTL_SECONDS = 60;

/**
 * KV keys are at most 512 bytes; a valid idempotency key is up to 255 characters (765+ bytes in
 * CJK). Hashed, every valid key fits: `idem:` + SHA-256 hex is 69 bytes.
 */
export async function kvKey(idempotencyKey: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(idempotencyKey));
  return `idem:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function findKnownKeys(kv: KVNamespace, keys: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  const unique = [...new Set(keys)];
  const hashed = new Map(await Promise.all(unique.map(async (key) => [key, await kvKey(key)] as const)));
  for (const slice of chunk(unique, KV_BULK_GET_MAX)) {
    const values = await kv.get(
      slice.map((key) => hashed.get(key)!),
      "text",
    );
    for (const key of slice) if (values.get(hashed.get(key)!) != null) known.add(key);
  }
  return known;
}

export async function rememberKeys(kv: KVNamespace, keys: string[], ttlSeconds: number): Promise<void> {
  const expirationTtl = Math.max(KV_MIN_TTL_SECONDS, ttlSeconds);
  await Promise.all([...new Set(keys)].map(async (key) => kv.put(await kvKey(key), "1", { expirationTtl })));
}

/** Removes keys from the fast path (erasure), through the same key format as remember/find. */
export async function forgetKeys(kv: KVNamespace, keys: string[]): Promise<void> {
  await Promise.all([...new Set(keys)].map(async (key) => kv.delete(await kvKey(key))));
}
