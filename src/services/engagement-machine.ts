/**
 * Which opens and clicks are machines, not people (docs/engagement-tracking.md). Decided from the
 * request alone plus the email's delivery time and its other recent clicks: no extra round trip.
 */
export type Verdict = { machine: false } | { machine: true; reason: MachineReason };
export type MachineReason =
  | "apple_mpp"
  | "known_scanner_user_agent"
  | "known_scanner_range"
  | "no_user_agent"
  | "clicked_soon_after_delivery"
  | "clicked_many_links_at_once";

/** A click this soon after the provider took the email is a link scanner's, not a reader's. */
export const SCANNER_WINDOW_MS = 10_000;
/** Another link of the same email clicked this shortly before: a scanner walking every link. */
export const BURST_WINDOW_MS = 3_000;

/** Apple's own network: Mail Privacy Protection fetches every image from it at delivery. */
const APPLE_RANGES = ["17.0.0.0/8"];
/** TRACKING_SCANNER_RANGES ("a.b.c.d/n, …"): only well-formed IPv4 CIDRs are kept. */
export function parseScannerRanges(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((range) => range.trim())
    .filter((range) => /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(range) && Number(range.split("/")[1]) <= 32);
}

const SCANNER_AGENTS =
  /\bbot\b|bot\/|crawler|spider|preview|scanner|python-requests|go-http-client|java\/|okhttp|curl\/|wget|libwww|headlesschrome|phantomjs|barracuda|proofpoint|mimecast|safelinks|urldefense|forcepoint|trendmicro|symantec|sophos/i;

function ipv4(ip: string): number | null {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function inRanges(ip: string | null, ranges: readonly string[]): boolean {
  const address = ip ? ipv4(ip) : null;
  if (address === null) return false;
  return ranges.some((range) => {
    const [base, bits] = range.split("/");
    const start = ipv4(base!);
    const size = Number(bits);
    if (start === null) return false;
    const mask = size === 0 ? 0 : (~0 << (32 - size)) >>> 0;
    return (address & mask) >>> 0 === (start & mask) >>> 0;
  });
}

export type HitFacts = {
  kind: "open" | "click";
  userAgent: string | null;
  ip: string | null;
  /** Security gateways that fetch links from their own networks (the operator lists them). */
  scannerRanges: readonly string[];
  at: Date;
  /** When the provider took (or delivered) the email; null if never sent. */
  deliveredAt: number | null;
  /** Clicks on other links of this email in the last BURST_WINDOW_MS. */
  recentOtherClicks: number;
};

export function classifyHit(hit: HitFacts): Verdict {
  const ua = hit.userAgent?.trim() ?? "";
  if (hit.kind === "open" && (inRanges(hit.ip, APPLE_RANGES) || ua === "Mozilla/5.0"))
    return { machine: true, reason: "apple_mpp" };
  if (!ua) return { machine: true, reason: "no_user_agent" };
  if (SCANNER_AGENTS.test(ua)) return { machine: true, reason: "known_scanner_user_agent" };
  if (inRanges(hit.ip, hit.scannerRanges)) return { machine: true, reason: "known_scanner_range" };
  if (hit.kind === "click") {
    if (hit.deliveredAt !== null && hit.at.getTime() - hit.deliveredAt < SCANNER_WINDOW_MS)
      return { machine: true, reason: "clicked_soon_after_delivery" };
    if (hit.recentOtherClicks > 0) return { machine: true, reason: "clicked_many_links_at_once" };
  }
  return { machine: false };
}
