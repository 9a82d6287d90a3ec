import { sign, verify } from "hono/jwt";

const UNSUBSCRIBE_TTL_SECONDS = 60 * 60 * 24 * 90;

/** `topic`: the email's topic, which a one-click unsubscribe (RFC 8058) leaves; absent: everything. */
type UnsubscribeClaims = { sub: string; purpose: "unsubscribe"; exp: number; topic?: string };

export type UnsubscribeLink = { contactId: string; topic: string | null };

/** Links are signed with TOKEN_SIGNING_SECRET; TOKEN_SIGNING_SECRET_PREVIOUS still verifies while rotating. */
export const unsubscribeSecrets = (secrets: {
  TOKEN_SIGNING_SECRET: string;
  TOKEN_SIGNING_SECRET_PREVIOUS?: string;
}) => [secrets.TOKEN_SIGNING_SECRET, secrets.TOKEN_SIGNING_SECRET_PREVIOUS ?? ""];

/** A signed, expiring token naming the contact an unsubscribe link is for. */
export async function signUnsubscribeToken(
  secret: string,
  contactId: string,
  now = Date.now(),
  topic?: string,
): Promise<string> {
  const claims: UnsubscribeClaims = {
    sub: contactId,
    purpose: "unsubscribe",
    exp: Math.floor(now / 1000) + UNSUBSCRIBE_TTL_SECONDS,
    ...(topic ? { topic } : {}),
  };
  return sign(claims, secret, "HS256");
}

/**
 * The contact id, or null for a forged, tampered, expired or foreign token. Several secrets (the
 * current one, then the previous one while rotating) keep links already sent working.
 */
export async function verifyUnsubscribeToken(secrets: string | string[], token: string): Promise<string | null> {
  return (await verifyUnsubscribeLink(secrets, token))?.contactId ?? null;
}

/** The contact and the email's topic a link is for, or null (same checks as verifyUnsubscribeToken). */
export async function verifyUnsubscribeLink(
  secrets: string | string[],
  token: string,
): Promise<UnsubscribeLink | null> {
  for (const secret of [secrets].flat().filter(Boolean)) {
    const link = await verifyWith(secret, token);
    if (link) return link;
  }
  return null;
}

async function verifyWith(secret: string, token: string): Promise<UnsubscribeLink | null> {
  try {
    const claims = (await verify(token, secret, "HS256")) as Partial<UnsubscribeClaims>;
    if (claims.purpose !== "unsubscribe" || typeof claims.sub !== "string") return null;
    return { contactId: claims.sub, topic: typeof claims.topic === "string" ? claims.topic : null };
  } catch {
    // Any failure to verify (bad signature, expired, malformed) means "not a valid link".
    return null;
  }
}
