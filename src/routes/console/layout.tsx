import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import type { ConsoleEnv } from "../../http/console-session";

export const NAV = [
  ["/console", "Overview"],
  ["/console/people", "People"],
  ["/console/imports", "Imports"],
  ["/console/events", "Events"],
  ["/console/emails", "Emails"],
  ["/console/journeys", "Journeys"],
  ["/console/jobs", "Jobs"],
  ["/console/dead-letters", "Dead letters"],
] as const;

type Flash = { kind: "ok" | "error"; text: string };
const FLASH_COOKIE = "hs_flash";

/** A message for the next page (post, redirect, get): what an action did, or the API's error. */
export function flash(c: Context, kind: Flash["kind"], text: string) {
  const value = btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify({ kind, text }))));
  setCookie(c, FLASH_COOKIE, value, { path: "/console", httpOnly: true, sameSite: "Strict", maxAge: 60 });
}

function takeFlash(c: Context): Flash | null {
  const value = getCookie(c, FLASH_COOKIE);
  if (!value) return null;
  deleteCookie(c, FLASH_COOKIE, { path: "/console" });
  try {
    const parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0))));
    return parsed.kind === "error" || parsed.kind === "ok" ? { kind: parsed.kind, text: String(parsed.text) } : null;
  } catch {
    return null; // a garbled flash is no message
  }
}

export const FlashMessage = ({ message }: { message: Flash | null }) =>
  message ? (
    <p class={`flash ${message.kind}`} role={message.kind === "error" ? "alert" : "status"}>
      {message.text}
    </p>
  ) : null;

export const Document = ({ title, csrf, children }: { title: string; csrf?: string; children: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {csrf ? <meta name="csrf-token" content={csrf} /> : null}
      <title>{`${title} · Hogsend console`}</title>
      <link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml" />
      <link rel="stylesheet" href="/console/assets/console.css" />
      <script type="module" src="/console/assets/console.js" />
    </head>
    <body>{children}</body>
  </html>
);

/** A signed-in page: skip link, navigation landmark, main, the session's key and sign-out. */
export function render(c: Context<ConsoleEnv>, title: string, body: Child, status: 200 | 400 | 403 | 404 = 200) {
  const path = c.req.path === "/console/new-import" ? "/console/imports/new" : c.req.path;
  const current = NAV.filter(([href]) => path === href || (href !== "/console" && path.startsWith(`${href}/`)));
  const page = (
    <Document title={title} csrf={c.var.csrf}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Hogsend console</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([href, label]) => (
              <li>
                <a href={href} aria-current={path === href || current[0]?.[0] === href ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <form method="post" action="/console/sign-out" class="signout">
          <input type="hidden" name="_csrf" value={c.var.csrf} />
          <span class="who">
            {c.var.principal.name} ({c.var.principal.scopes.join(", ")})
          </span>
          <button type="submit">Sign out</button>
        </form>
      </header>
      <main id="main" tabindex={-1}>
        <h1>{title}</h1>
        <FlashMessage message={takeFlash(c)} />
        {body}
      </main>
    </Document>
  );
  return c.html(`<!doctype html>${page}`, status);
}

/** A form that changes something: posts to this origin with the session's CSRF token. */
export const ActionForm = ({
  c,
  action,
  children,
  class: className,
}: {
  c: Context<ConsoleEnv>;
  action: string;
  children: Child;
  class?: string;
}) => (
  <form method="post" action={action} class={className}>
    <input type="hidden" name="_csrf" value={c.var.csrf} />
    {children}
  </form>
);
