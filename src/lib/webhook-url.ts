/**
 * Where an outbound webhook may go: https to a public host. Workers have no DNS resolver API, so
 * this checks what the URL itself says (literal addresses and local names); a public name that
 * resolves to a private address is reached only as Cloudflare's network routes it (docs/webhooks.md).
 */
export type UrlPolicy = { allowLocalhost: boolean };

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|home\.arpa)$/i;
const LOOPBACK_NAMES = /(^|\.)localhost$/i;

function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 198.18/15, 224/3. */
function privateIpv4([a, b, c]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a! >= 224 ||
    (a === 100 && b! >= 64 && b! < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b! >= 16 && b! < 32) ||
    (a === 192 && b === 0 && c === 0) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

/** Loopback, unspecified, unique-local (fc00::/7), link-local (fe80::/10), and IPv4-mapped private. */
function privateIpv6(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "::" || h === "::1") return true;
  if (/^f[cd]/.test(h) || /^fe[89ab]/.test(h)) return true;
  const mapped = /^::ffff:(.+)$/.exec(h)?.[1];
  if (mapped) {
    const v4 = ipv4(mapped);
    if (v4) return privateIpv4(v4);
    // URL normalizes ::ffff:a.b.c.d to ::ffff:xxxx:yyyy
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(mapped);
    if (hex) {
      const n = (Number.parseInt(hex[1]!, 16) << 16) | Number.parseInt(hex[2]!, 16);
      return privateIpv4([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    }
  }
  return false;
}

const isLoopback = (host: string) => {
  const v4 = ipv4(host);
  return LOOPBACK_NAMES.test(host) || (v4 !== null && v4[0] === 127) || host === "::1";
};

/** Why this URL may not receive webhooks; null when it may. */
export function webhookUrlProblem(raw: string, policy: UrlPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "url: not a URL";
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (url.username || url.password) return "url: credentials in the URL are not allowed";
  if (policy.allowLocalhost && isLoopback(host) && (url.protocol === "http:" || url.protocol === "https:")) return null;
  if (url.protocol !== "https:") return "url: must be https";
  const v4 = ipv4(host);
  if (
    (v4 && privateIpv4(v4)) ||
    (host.includes(":") && privateIpv6(host)) ||
    LOCAL_NAMES.test(host) ||
    !/[.:]/.test(host)
  ) {
    return "url: private, loopback, link-local and local names are not allowed";
  }
  return null;
}
