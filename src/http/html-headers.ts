import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";

/**
 * Headers for the server-rendered HTML pages (unsubscribe). They have inline styles and no
 * scripts; the only form posts back to this origin. An unsubscribe link carries a token, so the
 * page must not be cached, framed (clickjacking a one-click button) or leak it as a referrer.
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

/**
 * /docs runs Scalar's bundle from this origin (public/scalar/). Scripts: files from this origin
 * only, no inline script, no eval. Styles: Scalar's components inject <style> elements (some
 * without the nonce it supports) and set style attributes, so styles need 'unsafe-inline'; styles
 * can't run code. connect-src 'self': the document and try-it requests go to this origin only.
 */
const secureReference = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    connectSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    fontSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
});

const noStore = (policy: typeof secure) =>
  createMiddleware(async (c, next) => {
    await policy(c, async () => {
      await next();
      c.header("Cache-Control", "no-store");
    });
  });

export const htmlPageHeaders = noStore(secure);
export const apiReferenceHeaders = noStore(secureReference);
