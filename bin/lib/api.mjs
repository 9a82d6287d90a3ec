/**
 * The HTTP side of the CLI: the package's typed client (hogsend-workers/client) for one deployment,
 * and every failure as an ApiError with the server's message.
 */
import { createClient as createTypedClient } from "hogsend-workers/client";

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

/** Why the admin key must not go to `url`, or null: plain http only to this machine. @param {string} url @param {boolean} insecure */
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
 * @param {{ url?: string, adminKey?: string, insecure?: boolean, fetch?: typeof fetch,
 *           retry?: import("hogsend-workers/client").RetryOptions }} options
 */
export function createClient({ url = DEFAULT_URL, adminKey, insecure = false, fetch: fetchImpl = fetch, retry } = {}) {
  if (!adminKey)
    throw new ApiError("HOGSEND_ADMIN_KEY is not set: export the deployment's ADMIN_API_KEY (or an hsk_ key) first");
  const problem = transportProblem(url, insecure);
  if (problem) throw new ApiError(problem);
  const base = url.replace(/\/+$/, "");
  return {
    base,
    /** The typed client: paths, parameters and bodies checked against the API's document. */
    api: createTypedClient({ baseUrl: base, apiKey: adminKey, fetch: fetchImpl, retry }),
    /**
     * For a streamed body, which can't be sent twice: the request goes out once (the caller retries it whole).
     * @param {Request} request
     */
    sendOnce: (request) => fetchImpl(request),
    /**
     * A typed call's data, or an ApiError: the server's `{error, code, requestId}`, or what went wrong on the way.
     * @template T
     * @param {Promise<{ data?: T, error?: unknown, response: Response }>} pending
     * @returns {Promise<T>}
     */
    call: async (pending) => {
      let result;
      try {
        result = await pending;
      } catch (err) {
        throw transportError(/** @type {Error & { cause?: { code?: string } }} */ (err), base);
      }
      if (!result.response.ok) throw errorFrom(result.response, result.error);
      return /** @type {T} */ (result.data);
    },
  };
}

/** @param {Error & { cause?: { code?: string } }} err @param {string} base */
function transportError(err, base) {
  if (err.name === "AbortError") return new ApiError("Interrupted", { code: "ABORTED" });
  if (err instanceof ApiError) return err;
  return new ApiError(`Cannot reach ${base} (${err.cause?.code ?? err.message}): is HOGSEND_URL right?`, {
    code: "NETWORK",
  });
}

/** The server's one error shape, `{error, code, requestId}`, or whatever the body was. @param {Response} res @param {unknown} body */
function errorFrom(res, body) {
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string") {
    const { code, requestId } = /** @type {{ code?: string, requestId?: string }} */ (body);
    return new ApiError(body.error, { status: res.status, code, requestId });
  }
  const text = typeof body === "string" ? body : "";
  return new ApiError(`HTTP ${res.status}: ${text.slice(0, 200) || res.statusText}`, { status: res.status });
}

/** Whether trying the same request again may work (the network, or the server having a bad moment). @param {unknown} err */
export const isTransient = (err) =>
  err instanceof ApiError && (err.code === "NETWORK" || (err.status !== undefined && err.status >= 500));

/** @typedef {ReturnType<typeof createClient>} Client */
