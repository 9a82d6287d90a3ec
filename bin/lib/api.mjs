/** The HTTP side of the CLI: one client per run, every failure as an ApiError with the server's message. */

export class ApiError extends Error {
  /** @param {string} message @param {{status?: number, code?: string, requestId?: string}} [info] */
  constructor(message, info = {}) {
    super(message);
    this.name = "ApiError";
    this.status = info.status;
    this.code = info.code;
    this.requestId = info.requestId;
  }
}

export const DEFAULT_URL = "http://localhost:3002";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Why the admin key must not go to `url`, or null: plain http only to this machine. */
function transportProblem(url, insecure) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return `HOGSEND_URL is not a URL: ${url}`;
  }
  if (parsed.protocol === "https:") return null;
  if (parsed.protocol !== "http:") return `HOGSEND_URL must be https:// (got ${parsed.protocol}//)`;
  if (insecure || LOOPBACK.test(parsed.hostname)) return null;
  return `refusing to send the admin key over plain http to ${parsed.host}: use https://, or pass --insecure`;
}

/**
 * @param {{ url?: string, adminKey?: string, insecure?: boolean, fetch?: typeof fetch }} options
 */
export function createClient({ url = DEFAULT_URL, adminKey, insecure = false, fetch: fetchImpl = fetch } = {}) {
  if (!adminKey) throw new ApiError("HOGSEND_ADMIN_KEY is not set: export the deployment's ADMIN_API_KEY first");
  const problem = transportProblem(url, insecure);
  if (problem) throw new ApiError(problem);
  const base = url.replace(/\/+$/, "");

  /** @param {string} path @param {RequestInit & { json?: unknown }} [init] */
  async function request(path, init = {}) {
    const { json, headers, ...rest } = init;
    const finalHeaders = new Headers(headers);
    finalHeaders.set("authorization", `Bearer ${adminKey}`);
    let body = rest.body;
    if (json !== undefined) {
      finalHeaders.set("content-type", "application/json");
      body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetchImpl(`${base}${path}`, { ...rest, headers: finalHeaders, body });
    } catch (err) {
      if (err.name === "AbortError") throw new ApiError("Interrupted", { code: "ABORTED" });
      throw new ApiError(`Cannot reach ${base} (${err.cause?.code ?? err.message}): is HOGSEND_URL right?`, {
        code: "NETWORK",
      });
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  return {
    base,
    request,
    /** @param {string} path @param {RequestInit & { json?: unknown }} [init] */
    json: async (path, init) => (await request(path, init)).json(),
  };
}

/** The server's one error shape, `{error, code, requestId}`, or whatever the body was. */
async function errorFrom(res) {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    if (typeof body.error === "string") {
      return new ApiError(body.error, { status: res.status, code: body.code, requestId: body.requestId });
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return new ApiError(`HTTP ${res.status}: ${text.slice(0, 200) || res.statusText}`, { status: res.status });
}

/** Whether trying the same request again may work (the network, or the server having a bad moment). */
export const isTransient = (err) =>
  err instanceof ApiError && (err.code === "NETWORK" || (err.status !== undefined && err.status >= 500));
