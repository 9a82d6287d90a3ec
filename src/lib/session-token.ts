import { sign, verify } from "hono/jwt";

/** A console session: who signed in (the key's id, never the key) and what that key may do. */
export type SessionClaims = {
  purpose: "console";
  /** The key id (`bootstrap-admin` for ADMIN_API_KEY). */
  sub: string;
  name: string;
  scopes: string[];
  /** Random per sign-in: binds the CSRF token to this session. */
  sid: string;
  /** When the key was last found live (seconds): re-checked once this is 60 s old. */
  vat: number;
  exp: number;
  /** Bootstrap keys only: a keyed hash of the key, so a rotated ADMIN_API_KEY ends its sessions. */
  fp?: string;
};

export const SESSION_TTL_SECONDS = 8 * 3600;

export const signSession = (claims: SessionClaims, secret: string) => sign(claims, secret, "HS256");

/** The claims of an untampered, unexpired console session signed by one of `secrets`, else null. */
export async function verifySession(secrets: string[], token: string): Promise<SessionClaims | null> {
  for (const secret of secrets.filter(Boolean)) {
    try {
      const claims = (await verify(token, secret, "HS256")) as Partial<SessionClaims>;
      if (claims.purpose === "console" && typeof claims.sub === "string" && typeof claims.sid === "string") {
        return claims as SessionClaims;
      }
      return null;
    } catch {
      // Bad signature under this secret (try the previous one), expired or malformed: not a session.
    }
  }
  return null;
}

const encoder = new TextEncoder();

/** HMAC-SHA256 of `text` under `secret`, base64url: CSRF tokens and key fingerprints. */
export async function mac(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const bytes = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Constant-time equality of two short strings (tokens). */
export function sameToken(a: string, b: string): boolean {
  const [x, y] = [encoder.encode(a), encoder.encode(b)];
  if (x.byteLength !== y.byteLength) return !crypto.subtle.timingSafeEqual(x, x);
  return crypto.subtle.timingSafeEqual(x, y);
}
