import type { Context, ExecutionContext } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import type { ApiKeyScope } from "../db/schema";
import {
  mac,
  SESSION_TTL_SECONDS,
  type SessionClaims,
  sameToken,
  signSession,
  verifySession,
} from "../lib/session-token";
import { unsubscribeSecrets } from "../lib/tokens";
import { liveKeyById, type Principal } from "../services/api-keys/verify";
import type { AppEnv } from "./app-env";
import { bootstrapPrincipal } from "./auth";

/** The app's own fetch: the console reads and acts through the same admin routes as the API. */
export type AppFetch = (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>;

export type ConsoleEnv = AppEnv & {
  Variables: AppEnv["Variables"] & { session: SessionClaims; principal: Principal; csrf: string; appFetch: AppFetch };
};

export const SESSION_COOKIE = "hs_console";
/** A revoked or expired key stops working in the console within this long (as API keys do). */
export const REVERIFY_MS = 60_000;

/** Secure everywhere but plain-http local dev (a browser drops Secure cookies on http://127.0.0.1). */
const secure = (c: Context) => new URL(c.req.url).protocol === "https:";

const cookieOptions = (c: Context, maxAge: number) =>
  ({ path: "/console", httpOnly: true, secure: secure(c), sameSite: "Strict", maxAge }) as const;

/** A keyed hash of a bootstrap key: ends its sessions when ADMIN_API_KEY changes, without storing the key. */
export const bootstrapFingerprint = (env: Env, key: string) => mac(env.TOKEN_SIGNING_SECRET, `console-key:${key}`);

async function writeSession(c: Context<ConsoleEnv>, claims: SessionClaims) {
  const token = await signSession(claims, c.env.TOKEN_SIGNING_SECRET);
  setCookie(c, SESSION_COOKIE, token, cookieOptions(c, Math.max(0, claims.exp - Math.floor(Date.now() / 1000))));
}

/** After a key checked out at sign-in: the cookie names the key id and scopes, never the key. */
export async function startSession(c: Context<ConsoleEnv>, principal: Principal, key: string) {
  const now = Math.floor(Date.now() / 1000);
  const claims: SessionClaims = {
    purpose: "console",
    sub: principal.id,
    name: principal.name,
    scopes: principal.scopes,
    sid: crypto.randomUUID(),
    vat: now,
    exp: now + SESSION_TTL_SECONDS,
    ...(principal.id.startsWith("bootstrap-") ? { fp: await bootstrapFingerprint(c.env, key) } : {}),
  };
  await writeSession(c, claims);
}

export const endSession = (c: Context) => deleteCookie(c, SESSION_COOKIE, cookieOptions(c, 0));

/** The key behind a session, if it still works: a bootstrap key unchanged and on, or a live stored key. */
async function recheck(c: Context<ConsoleEnv>, claims: SessionClaims): Promise<Principal | null> {
  if (claims.sub.startsWith("bootstrap-")) {
    if (c.env.BOOTSTRAP_KEYS === "off" || !claims.fp) return null;
    const same = claims.fp && sameToken(claims.fp, await bootstrapFingerprint(c.env, c.env.ADMIN_API_KEY));
    return same ? bootstrapPrincipal(c.env, c.env.ADMIN_API_KEY) : null;
  }
  return liveKeyById(c.var.db, claims.sub);
}

/** The CSRF token of a session (synchronizer token, derived from its random id). */
export const csrfFor = (env: Env, claims: SessionClaims) => mac(env.TOKEN_SIGNING_SECRET, `csrf:${claims.sid}`);

async function currentSession(c: Context<ConsoleEnv>): Promise<{ claims: SessionClaims; principal: Principal } | null> {
  const token = getCookie(c, SESSION_COOKIE);
  const claims = token ? await verifySession(unsubscribeSecrets(c.env), token) : null;
  if (!claims) return null;
  const stale = Date.now() - claims.vat * 1000 >= REVERIFY_MS || claims.sub.startsWith("bootstrap-");
  if (!stale)
    return { claims, principal: { id: claims.sub, name: claims.name, scopes: claims.scopes as ApiKeyScope[] } };
  const principal = await recheck(c, claims);
  if (!principal) return null;
  if (!claims.sub.startsWith("bootstrap-")) {
    const renewed = { ...claims, name: principal.name, scopes: principal.scopes, vat: Math.floor(Date.now() / 1000) };
    await writeSession(c, renewed);
    return { claims: renewed, principal };
  }
  return { claims, principal };
}

/**
 * Every console page but sign-in: a valid session or a redirect to sign-in (401 for scripts'
 * requests); a request that changes something must carry the session's CSRF token (form field
 * `_csrf` or header `X-CSRF-Token`).
 */
export const consoleSession = createMiddleware<ConsoleEnv>(async (c, next) => {
  const session = await currentSession(c);
  if (!session) {
    endSession(c);
    if (c.req.method === "GET" && !c.req.header("x-csrf-token")) return c.redirect("/console/sign-in", 303);
    return c.json({ error: "Sign in again: the session ended", code: "UNAUTHORIZED", requestId: c.var.requestId }, 401);
  }
  c.set("session", session.claims);
  c.set("principal", session.principal);
  const csrf = await csrfFor(c.env, session.claims);
  c.set("csrf", csrf);
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    const presented = c.req.header("x-csrf-token") ?? (await formField(c, "_csrf"));
    if (!presented || !sameToken(presented, csrf)) {
      return c.json(
        { error: "Missing or wrong CSRF token: reload the page", code: "FORBIDDEN", requestId: c.var.requestId },
        403,
      );
    }
  }
  await next();
});

/** A urlencoded or multipart form's field (parsed once; Hono caches the body for the handler). */
async function formField(c: Context, name: string): Promise<string | undefined> {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data"))
    return undefined;
  const value = (await c.req.parseBody())[name];
  return typeof value === "string" ? value : undefined;
}
