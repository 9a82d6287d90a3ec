// The typed Hogsend client: openapi-fetch over the types generated from /openapi.json
// (client/schema.d.ts), with retries on 429 and 5xx that honour Retry-After.
import createFetchClient from "openapi-fetch";

/** @typedef {import("./schema.js").paths} paths every route: its parameters, bodies and answers */
/** @typedef {import("./schema.js").components} components the document's named schemas */
/** @typedef {import("./schema.js").operations} operations each operation, by its operationId */

/**
 * @typedef {object} RetryOptions
 * @property {number} [attempts] tries in all, the first included (default 4; 1 turns retries off)
 * @property {number} [baseDelayMs] the first backoff when the answer has no Retry-After (default 500; doubles each time)
 * @property {number} [maxDelayMs] the longest wait; a Retry-After beyond it is answered as it came (default 30 000)
 * @property {boolean} [post] retry POST and PATCH too (default false: only with an Idempotency-Key header)
 * @property {(ms: number, signal?: AbortSignal | null) => Promise<void>} [sleep] for tests
 */

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/**
 * Whether sending `request` twice is safe: idempotent methods, or a POST the caller vouched for.
 * @param {Request} request @param {{ post?: boolean }} [options] @returns {boolean}
 */
export function mayRetry(request, { post = false } = {}) {
  if (IDEMPOTENT.has(request.method)) return true;
  return post || request.headers.has("idempotency-key");
}

/**
 * Retry-After as milliseconds (delta-seconds or an HTTP date), or undefined.
 * @param {Response} response @param {number} [now] @returns {number | undefined}
 */
export function retryAfterMs(response, now = Date.now()) {
  const value = response.headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** @type {(ms: number, signal?: AbortSignal | null) => Promise<void>} */
const sleepFor = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });

/**
 * A fetch that sends a request again on 429/5xx (waiting Retry-After, else an exponential backoff
 * with jitter) or on a network error, when `mayRetry` allows it. Each try sends a clone, so the
 * body must be replayable: a streamed body (an upload) should go through a plain fetch instead.
 *
 * @param {typeof fetch} [fetchImpl]
 * @param {RetryOptions} [options]
 * @returns {(request: Request) => Promise<Response>}
 */
export function retryingFetch(fetchImpl = globalThis.fetch, options = {}) {
  const { attempts = 4, baseDelayMs = 500, maxDelayMs = 30_000, sleep = sleepFor } = options;
  return async (request) => {
    const retryable = attempts > 1 && mayRetry(request, options);
    for (let attempt = 1; ; attempt++) {
      const last = !retryable || attempt >= attempts;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      let response;
      try {
        response = await fetchImpl(last ? request : request.clone());
      } catch (err) {
        if (last || /** @type {Error} */ (err).name === "AbortError") throw err;
        await sleep(backoff, request.signal);
        continue;
      }
      if (last || !RETRY_STATUSES.has(response.status)) return response;
      const wait = retryAfterMs(response) ?? backoff;
      if (wait > maxDelayMs) return response;
      await response.body?.cancel();
      await sleep(wait, request.signal);
    }
  };
}

/**
 * A typed client for a Hogsend deployment: `client.GET("/v1/health")`, `client.POST(...)`, each
 * path, parameter and body checked against the API's OpenAPI document.
 *
 * @param {{ baseUrl: string, apiKey?: string, fetch?: typeof fetch, retry?: RetryOptions,
 *           headers?: Record<string, string> }} options
 * @returns {import("openapi-fetch").Client<import("./schema.js").paths>}
 */
export function createClient({ baseUrl, apiKey, fetch: fetchImpl = globalThis.fetch, retry = {}, headers = {} }) {
  return createFetchClient({
    baseUrl,
    headers: { ...headers, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    fetch: retryingFetch(fetchImpl, retry),
  });
}

export {
  API_KEY_SCOPES,
  COLUMN_TYPES,
  EXPORT_FORMATS,
  IMPORT_FORMATS,
  IMPORT_PRESETS,
  SUPPRESSION_EXPORT_FORMATS,
  SUPPRESSION_PRESETS,
  SUPPRESSION_REASONS,
} from "./lists.mjs";
