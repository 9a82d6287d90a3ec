import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { stringify } from "csv-stringify/sync";
import { removeOnExit } from "./cleanup.mjs";

/** The server's cap per export request; the CLI follows `X-Next-Cursor` to the end. */
export const PAGE_LIMIT = 10_000;

/**
 * Every page of the export as NDJSON lines, following the cursor until the server says the export
 * ended. `onPage(rowsSoFar)` after each page.
 *
 * @param {import("./api.mjs").Client} client
 * @param {{ search?: string, pageLimit?: number, onPage?: (rows: number) => void }} options
 * @returns {AsyncGenerator<string>}
 */
export async function* exportLines(client, { search, pageLimit = PAGE_LIMIT, onPage = () => {} } = {}) {
  /** @type {string | undefined} */
  let cursor;
  let rows = 0;
  do {
    const pending = client.api.GET("/v1/admin/contacts/export", {
      params: {
        query: { format: "ndjson", limit: pageLimit, ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) },
      },
      parseAs: "stream",
    });
    const { response } = await pending;
    const body = await client.call(pending);
    cursor = response.headers.get("x-next-cursor") ?? undefined;
    const input = Readable.fromWeb(/** @type {import("node:stream/web").ReadableStream} */ (body));
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim() === "") continue;
      rows += 1;
      yield line;
    }
    onPage(rows);
  } while (cursor);
}

/** A cell a spreadsheet would run as a formula gets a leading `'` (as the server's own CSV export does). */
const FORMULA_CELL = /^'*[=+\-@\t\r]/;
/** @param {unknown} value */
const cell = (value) => {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return FORMULA_CELL.test(text) ? `'${text}` : text;
};
/** @param {unknown[]} cells */
const csvLine = (cells) => stringify([cells.map(cell)]);

/**
 * Writes the whole export to `out` (a writable stream). CSV columns are the property keys of the
 * contacts on a page, so pages can disagree: the pages go to a temporary NDJSON file first while
 * the keys are collected, then one CSV with every key is written from it.
 *
 * @param {import("./api.mjs").Client} client
 * @param {{ format: "csv" | "json" | "ndjson", out: NodeJS.WritableStream, search?: string,
 *           pageLimit?: number, onPage?: (rows: number) => void }} options
 * @returns {Promise<number>} contacts written
 */
export async function writeExport(client, { format, out, ...options }) {
  if (format !== "csv") {
    let rows = 0;
    if (format === "json") await write(out, "[");
    for await (const line of exportLines(client, options)) {
      const text = format === "json" ? `${rows > 0 ? "," : ""}\n${line}` : `${line}\n`;
      await write(out, text);
      rows += 1;
    }
    if (format === "json") await write(out, "\n]\n");
    return rows;
  }
  const dir = await mkdtemp(path.join(tmpdir(), "hogsend-export-"));
  const keep = removeOnExit(dir, { recursive: true });
  try {
    const spool = path.join(dir, "contacts.ndjson");
    const { keys, rows } = await spoolPages(client, spool, options);
    await write(out, csvLine(["externalId", "email", ...keys]));
    for await (const line of createInterface({ input: createReadStream(spool), crlfDelay: Infinity })) {
      const contact = JSON.parse(line);
      await write(out, csvLine([contact.externalId, contact.email, ...keys.map((k) => contact.properties?.[k])]));
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
    keep();
  }
}

/**
 * @param {import("./api.mjs").Client} client @param {string} spool
 * @param {{ search?: string, pageLimit?: number, onPage?: (rows: number) => void }} options
 */
async function spoolPages(client, spool, options) {
  const file = createWriteStream(spool);
  /** @type {Set<string>} */
  const keys = new Set();
  let rows = 0;
  for await (const line of exportLines(client, options)) {
    for (const key of Object.keys(JSON.parse(line).properties ?? {})) keys.add(key);
    await write(file, `${line}\n`);
    rows += 1;
  }
  file.end();
  await finished(file);
  return { keys: [...keys].sort(), rows };
}

/**
 * Writes with backpressure, so a 2 M-contact export never piles up in memory.
 * @param {NodeJS.WritableStream} stream @param {string} text @returns {Promise<void>}
 */
export function write(stream, text) {
  if (stream.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off("error", onError);
      resolve();
    };
    /** @param {Error} err */
    const onError = (err) => {
      stream.off("drain", onDrain);
      reject(err);
    };
    stream.once("drain", onDrain);
    stream.once("error", onError);
  });
}
