import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../../http/app-env";
import { bootstrapPrincipal } from "../../http/auth";
import { type ConsoleEnv, endSession, startSession } from "../../http/console-session";
import { clientIp, limitOrThrow } from "../../http/rate-limit";
import { sameToken } from "../../lib/session-token";
import { grants, verifyStoredKey } from "../../services/api-keys/verify";
import { Document, FlashMessage } from "./layout";

const SIGN_IN_COOKIE = "hs_signin";

/** Sign-in has no session yet: a double-submit token (cookie + field) keeps other sites from posting it. */
function signInPage(c: Context<ConsoleEnv>, error?: string, status: 200 | 401 = 200) {
  const token = crypto.randomUUID();
  const secure = new URL(c.req.url).protocol === "https:";
  setCookie(c, SIGN_IN_COOKIE, token, { path: "/console", httpOnly: true, secure, sameSite: "Strict", maxAge: 600 });
  const page = (
    <Document title="Sign in">
      <main id="main" class="signin">
        <h1>Sign in to the Hogsend console</h1>
        <FlashMessage message={error ? { kind: "error", text: error } : null} />
        <form method="post" action="/console/sign-in">
          <input type="hidden" name="_signin" value={token} />
          <label for="key">API key</label>
          <input id="key" name="key" type="password" autocomplete="off" required />
          <p class="hint">
            An <code>hsk_</code> key with the read, operate or admin scope, or ADMIN_API_KEY. The key stays here: the
            browser keeps only a signed session naming the key's id.
          </p>
          <button type="submit" class="primary">
            Sign in
          </button>
        </form>
      </main>
    </Document>
  );
  return c.html(`<!doctype html>${page}`, status);
}

export function signInRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/sign-in", (c) => signInPage(c));
  routes.post("/sign-in", async (c) => {
    // Charged per IP before any lookup, like an unverified API key.
    const ip = clientIp(c as unknown as Context<AppEnv>);
    if (ip !== null) await limitOrThrow(c as unknown as Context<AppEnv>, "RATE_LIMIT_PUBLIC", `console-sign-in:${ip}`);
    const form = await c.req.parseBody();
    const expected = getCookie(c, SIGN_IN_COOKIE);
    if (typeof form._signin !== "string" || !expected || !sameToken(form._signin, expected)) {
      return signInPage(c, "The sign-in form expired: try again.", 401);
    }
    const key = typeof form.key === "string" ? form.key.trim() : "";
    const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
    const principal = key
      ? (bootstrapPrincipal(c.env, key) ?? (await verifyStoredKey({ db: c.var.db, waitUntil }, key)))
      : null;
    if (!principal) return signInPage(c, "That key is not valid (or was revoked).", 401);
    if (!grants(principal.scopes, "read")) {
      return signInPage(c, "That key can only ingest: the console needs read, operate or admin.", 401);
    }
    await startSession(c, principal, key);
    return c.redirect("/console", 303);
  });
  return routes;
}

export function signOut(c: Context<ConsoleEnv>) {
  endSession(c);
  return c.redirect("/console/sign-in", 303);
}
