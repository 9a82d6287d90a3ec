/**
 * Tokens of the tracking links (`/v1/t/o/{token}`, `/v1/t/c/{token}`): `<kid>.<payload>.<mac>`.
 * The payload (base64url) carries the email id and, for a click, the target URL, so answering
 * needs no D1 read; the MAC (HMAC-SHA-256 over kind, kid and payload, 128 bits kept) binds the
 * target: a changed URL is a 404, never a redirect. `kid` names the secret (a digest of it, not
 * the secret): links signed with TOKEN_SIGNING_SECRET_PREVIOUS still verify while rotating. No
 * expiry: people click links in old emails.
 */
export type TrackingKind = "o" | "c";
export type TrackedLink = { emailId: string; url: string | null };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAC_BYTES = 16;
const keys = new Map<string, Promise<{ key: CryptoKey; kid: string }>>();

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

function fromB64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    // Not base64: not a token of ours.
    return null;
  }
}

function keyOf(secret: string) {
  let entry = keys.get(secret);
  if (!entry) {
    entry = (async () => {
      const key = await crypto.subtle.importKey(
        "raw",
        encoder.encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      const id = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode("tracking-key-id")));
      return { key, kid: b64url(id.slice(0, 6)) };
    })();
    keys.set(secret, entry);
  }
  return entry;
}

async function mac(key: CryptoKey, kind: TrackingKind, kid: string, payload: string) {
  const signed = await crypto.subtle.sign("HMAC", key, encoder.encode(`${kind}.${kid}.${payload}`));
  return new Uint8Array(signed).slice(0, MAC_BYTES);
}

export async function signTrackingToken(secret: string, kind: TrackingKind, link: TrackedLink): Promise<string> {
  const { key, kid } = await keyOf(secret);
  const payload = b64url(encoder.encode(kind === "c" ? `${link.emailId}\n${link.url}` : link.emailId));
  return `${kid}.${payload}.${b64url(await mac(key, kind, kid, payload))}`;
}

/** The email and target, or null for a forged, tampered, foreign-kind or unknown-key token. */
export async function verifyTrackingToken(
  secrets: string[],
  kind: TrackingKind,
  token: string,
): Promise<TrackedLink | null> {
  const [kid, payload, given, extra] = token.split(".");
  if (!kid || !payload || !given || extra !== undefined) return null;
  for (const secret of secrets.filter(Boolean)) {
    const { key, kid: secretKid } = await keyOf(secret);
    if (secretKid !== kid) continue;
    const expected = await mac(key, kind, kid, payload);
    const actual = fromB64url(given);
    if (!actual || actual.length !== MAC_BYTES) return null;
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= expected[i]! ^ actual[i]!;
    if (diff !== 0) return null;
    const bytes = fromB64url(payload);
    if (!bytes) return null;
    const text = decoder.decode(bytes);
    if (kind === "o") return { emailId: text, url: null };
    const cut = text.indexOf("\n");
    return cut > 0 ? { emailId: text.slice(0, cut), url: text.slice(cut + 1) } : null;
  }
  return null;
}
