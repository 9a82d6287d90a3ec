import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";

/**
 * Headers for the HTML pages (unsubscribe, /docs). They are server-rendered with inline styles
 * and no scripts; the only form posts back to this origin. An unsubscribe link carries a token, so
 * the page must not be cached, framed (clickjacking a one-click button) or leak it as a referrer.
 */
const secure = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: ["'unsafe-inline'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
});

export const htmlPageHeaders = createMiddleware(async (c, next) => {
  await secure(c, async () => {
    await next();
    c.header("Cache-Control", "no-store");
  });
});
