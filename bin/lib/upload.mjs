import { createReadStream } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { ApiError, isTransient } from "./api.mjs";
import { optionsQuery, suppressionOptionsQuery } from "./import-options.mjs";

const MiB = 1024 * 1024;
/** R2's rules for a multipart upload: parts (but the last) the same size, ≥ 5 MiB; a part is one request, ≤ 100 MB. */
export const MIN_PART_BYTES = 5 * MiB;
export const MAX_PART_BYTES = 100 * 1000 * 1000;
export const DEFAULT_PART_BYTES = 64 * MiB;
const MAX_PARTS = 10_000;
const PART_ATTEMPTS = 3;
/** Parts in flight at once: R2 takes them in any order, and one stream rarely fills a real uplink. */
export const DEFAULT_CONCURRENCY = 3;

/** @typedef {import("hogsend-workers/client").components["schemas"]["ImportEnvelope"]["format"]} ImportFormat */

export const CONTENT_TYPES = { csv: "text/csv", json: "application/json", ndjson: "application/x-ndjson" };

/** @type {Record<string, ImportFormat>} */
const EXTENSIONS = { ".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson" };

/** The format a file's extension says, or undefined. @param {string} file @returns {ImportFormat | undefined} */
export function formatFromName(file) {
  return EXTENSIONS[path.extname(file).toLowerCase()];
}

/**
 * A streamed body for the typed client: the document states the file as a string, the CLI streams
 * it (openapi-fetch passes it on as it is, with `bodySerializer: same`).
 * @param {ReadableStream<Uint8Array> | Uint8Array} stream @returns {any}
 */
const streamed = (stream) => stream;
/** @param {unknown} body */
const same = (body) => body;

/**
 * How a file of `size` bytes is sent: one request up to one part's size, otherwise equal parts of
 * `partBytes` and a smaller last one (R2's rule).
 * @param {number} size @param {number} [partBytes]
 */
export function planParts(size, partBytes = DEFAULT_PART_BYTES) {
  if (size <= partBytes) return { multipart: false, parts: [{ partNumber: 1, start: 0, end: size }] };
  const count = Math.ceil(size / partBytes);
  if (count > MAX_PARTS) throw new Error(`The file needs ${count} parts of ${partBytes} bytes; at most ${MAX_PARTS}`);
  const parts = Array.from({ length: count }, (_, i) => ({
    partNumber: i + 1,
    start: i * partBytes,
    end: Math.min(size, (i + 1) * partBytes),
  }));
  return { multipart: true, parts };
}

/**
 * The bytes [start, end) of a file as a web stream that reports every chunk it hands on.
 * @param {string} file @param {{ start: number, end: number }} range @param {(bytes: number) => void} onBytes
 */
function fileSlice(file, { start, end }, onBytes) {
  if (end <= start) return new Uint8Array(0);
  const stream = /** @type {ReadableStream<Uint8Array>} */ (
    Readable.toWeb(createReadStream(file, { start, end: end - 1, highWaterMark: MiB }))
  );
  return stream.pipeThrough(
    /** @type {TransformStream<Uint8Array, Uint8Array>} */ (
      new TransformStream({
        transform(chunk, controller) {
          onBytes(chunk.byteLength);
          controller.enqueue(chunk);
        },
      })
    ),
  );
}

/**
 * Uploads the file and answers the import job it became: one raw request when it fits in a part,
 * else a multipart upload (create, `concurrency` parts at a time, complete) that is aborted if it
 * can't finish.
 *
 * A suppression list (`suppressions` given: its options) goes to the suppression import's routes;
 * its parts and completion are the contact import's, by upload id.
 *
 * @param {import("./api.mjs").Client} client
 * @param {{ file: string, size: number, format: ImportFormat, fileName: string, partBytes?: number,
 *           options?: import("./import-options.mjs").ImportOptions, concurrency?: number, signal?: AbortSignal,
 *           suppressions?: import("./import-options.mjs").SuppressionImportOptions,
 *           onProgress?: (sentBytes: number) => void }} input
 */
export async function uploadFile(
  client,
  {
    file,
    size,
    format,
    fileName,
    options = {},
    suppressions,
    partBytes,
    concurrency = DEFAULT_CONCURRENCY,
    signal,
    onProgress = () => {},
  },
) {
  const plan = planParts(size, partBytes);
  let sent = 0;
  /** @param {number} n */
  const counted = (n) => {
    sent += n;
    onProgress(sent);
  };
  if (!plan.multipart) {
    const request = {
      headers: { "content-type": CONTENT_TYPES[format], "content-length": String(size) },
      body: streamed(fileSlice(file, { start: 0, end: size }, counted)),
      bodySerializer: same,
      duplex: /** @type {const} */ ("half"),
      signal,
      fetch: client.sendOnce,
    };
    return client.call(
      suppressions
        ? client.api.POST("/v1/admin/suppressions/import", {
            params: { query: { format, fileName, ...suppressionOptionsQuery(suppressions) } },
            ...request,
          })
        : client.api.POST("/v1/admin/contacts/import", {
            params: { query: { format, fileName, ...optionsQuery(options) } },
            ...request,
          }),
    );
  }
  // The create isn't interrupted mid-flight: once the server has made the upload, an interrupt
  // must know its id to discard it (below) instead of leaving its parts for the cron.
  const upload = await client.call(
    suppressions
      ? client.api.POST("/v1/admin/suppressions/import/uploads", { body: { format, fileName, ...suppressions } })
      : client.api.POST("/v1/admin/contacts/import/uploads", { body: { format, fileName, ...options } }),
  );
  try {
    if (signal?.aborted) throw new ApiError("Interrupted", { code: "ABORTED" });
    const done = await inParallel(plan.parts, concurrency, async (part) => {
      let partSent = 0;
      /** @param {number} n */
      const countPart = (n) => {
        partSent += n;
        counted(n);
      };
      const rewind = () => {
        counted(-partSent); // the part is sent again from its start
        partSent = 0;
      };
      return withRetries(() => sendPart(client, upload.uploadId, file, part, countPart, signal), rewind);
    });
    const parts = done.map(({ partNumber, etag }) => ({ partNumber, etag }));
    return await client.call(
      client.api.POST("/v1/admin/contacts/import/uploads/{uploadId}/complete", {
        params: { path: { uploadId: upload.uploadId } },
        body: { parts },
        signal,
      }),
    );
  } catch (err) {
    // Interrupted or failed: discard the parts now rather than leave them for the cron.
    await client
      .call(
        client.api.DELETE("/v1/admin/contacts/import/uploads/{uploadId}", {
          params: { path: { uploadId: upload.uploadId } },
        }),
      )
      .catch(() => {});
    throw err;
  }
}

/**
 * `work` over every item, at most `limit` at a time; results in the items' order; the first error wins.
 * @template I, R
 * @param {I[]} items @param {number} limit @param {(item: I) => Promise<R>} work
 * @returns {Promise<R[]>}
 */
async function inParallel(items, limit, work) {
  /** @type {R[]} */
  const results = new Array(items.length);
  let next = 0;
  /** @type {unknown} */
  let failed = null;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await work(/** @type {I} */ (items[i]));
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed;
  return results;
}

/**
 * @param {import("./api.mjs").Client} client @param {string} uploadId @param {string} file
 * @param {{ partNumber: number, start: number, end: number }} part @param {(bytes: number) => void} counted
 * @param {AbortSignal | undefined} signal
 */
function sendPart(client, uploadId, file, part, counted, signal) {
  return client.call(
    client.api.PUT("/v1/admin/contacts/import/uploads/{uploadId}/parts/{partNumber}", {
      params: { path: { uploadId, partNumber: part.partNumber } },
      headers: { "content-type": "application/octet-stream", "content-length": String(part.end - part.start) },
      body: streamed(fileSlice(file, part, counted)),
      bodySerializer: same,
      duplex: "half",
      signal,
      // The stream can't be replayed: withRetries sends the part again from a fresh one.
      fetch: client.sendOnce,
    }),
  );
}

/**
 * Sending a part number again replaces the part, so a part that failed in transit is simply re-sent.
 * @template T @param {() => Promise<T>} attempt @param {() => void} beforeRetry @returns {Promise<T>}
 */
async function withRetries(attempt, beforeRetry) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= PART_ATTEMPTS || !isTransient(err)) throw err;
      beforeRetry();
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** i));
    }
  }
}
