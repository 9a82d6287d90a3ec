import { chunk } from "../lib/chunk";

/**
 * The KV fast path for idempotency keys. KV is eventually consistent and has no compare-and-set,
 * so it only ever short-circuits keys already known; the D1 unique index stays the real guard.
 */
const KV_BULK_GET_MAX = 100;
const KV_MIN_TTL_SECONDS = 60;

const kvKey = (idempotencyKey: string) => `idem:${idempotencyKey}`;

export async function findKnownKeys(kv: KVNamespace, keys: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  const unique = [...new Set(keys)];
  for (const slice of chunk(unique, KV_BULK_GET_MAX)) {
    const values = await kv.get(slice.map(kvKey), "text");
    for (const key of slice) if (values.get(kvKey(key)) != null) known.add(key);
  }
  return known;
}

export async function rememberKeys(kv: KVNamespace, keys: string[], ttlSeconds: number): Promise<void> {
  const expirationTtl = Math.max(KV_MIN_TTL_SECONDS, ttlSeconds);
  await Promise.all([...new Set(keys)].map((key) => kv.put(kvKey(key), "1", { expirationTtl })));
}

/** Removes keys from the fast path (erasure), through the same key format as remember/find. */
export async function forgetKeys(kv: KVNamespace, keys: string[]): Promise<void> {
  await Promise.all([...new Set(keys)].map((key) => kv.delete(kvKey(key))));
}
