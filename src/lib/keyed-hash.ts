/**
 * `hmac:<hex>` of the text (UTF-8) under a secret: how erased people's addresses and ids are kept.
 * Keyed, so a list of candidate addresses can't be confirmed against the stored hashes without the
 * secret (ERASURE_HASH_SECRET, which must never change: every stored hash is made with it).
 */
export type KeyedHash = (text: string) => Promise<string>;

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

/** Fails when used, not when built: without the secret only erasure and suppression checks fail. */
export function keyedHash(secret: string | undefined): KeyedHash {
  return async (text) => {
    if (!secret) throw new Error("ERASURE_HASH_SECRET is not set");
    const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(text));
    return `hmac:${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  };
}
