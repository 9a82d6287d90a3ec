import { signTrackingToken } from "../lib/tracking-tokens";
import type { EmailTemplate } from "./template";

export type TrackingOptions = {
  emailId: string;
  /** PUBLIC_BASE_URL: where /v1/t/* answers. */
  baseUrl: string;
  secret: string;
  opens: boolean;
  clicks: boolean;
  /** Links left alone: the preference centre (its token is the unsubscribe itself). */
  keep: (url: string) => boolean;
};

/** A longer target is left as it is: the token would carry it whole. */
const MAX_TRACKED_URL = 2048;
const ANCHOR_HREF = /(<a\b[^>]*?\bhref=")([^"]*)(")/gi;

const unescapeAttr = (value: string) =>
  value
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

export const trackingOf = (template: Pick<EmailTemplate, "tracking">) => ({
  opens: template.tracking?.opens !== false,
  clicks: template.tracking?.clicks !== false,
});

/**
 * The rendered HTML with every http(s) link of an `<a href>` pointed at the signed redirect and a
 * 1×1 pixel before `</body>`. mailto:, tel:, anchors and `keep` links stay as they are. Pure
 * computation: no D1 round trip is added to a send.
 */
export async function addTracking(html: string, options: TrackingOptions): Promise<string> {
  const base = options.baseUrl.replace(/\/+$/, "");
  let out = html;
  if (options.clicks) {
    const targets = new Map<string, string>();
    for (const [, , raw] of html.matchAll(ANCHOR_HREF)) {
      const url = unescapeAttr(raw!);
      if (targets.has(raw!) || !/^https?:\/\//i.test(url) || url.length > MAX_TRACKED_URL || options.keep(url))
        continue;
      if (!URL.canParse(url)) continue;
      // Normalized (non-ASCII percent-encoded): the target goes out in a Location header.
      const target = new URL(url).href;
      const token = await signTrackingToken(options.secret, "c", { emailId: options.emailId, url: target });
      targets.set(raw!, `${base}/v1/t/c/${token}`);
    }
    out = out.replace(ANCHOR_HREF, (whole, open: string, raw: string, close: string) => {
      const tracked = targets.get(raw);
      return tracked ? `${open}${tracked}${close}` : whole;
    });
  }
  if (options.opens) {
    const token = await signTrackingToken(options.secret, "o", { emailId: options.emailId, url: null });
    const pixel = `<img src="${base}/v1/t/o/${token}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
    out = /<\/body>/i.test(out) ? out.replace(/<\/body>/i, `${pixel}</body>`) : `${out}${pixel}`;
  }
  return out;
}
