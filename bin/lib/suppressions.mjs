import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { write } from "./export.mjs";

/** The server's cap per suppression export request; the CLI follows `X-Next-Cursor` to the end. */
export const SUPPRESSION_PAGE_LIMIT = 100_000;

/**
 * Writes the whole suppression list (or the entries with `reason` / `source`) to `out`, page after
 * page: the server's own CSV or NDJSON lines, the CSV header once. Erased people's entries arrive
 * as their keyed hash. `onPage(rowsSoFar)` after each page.
 *
 * @param {import("./api.mjs").Client} client
 * @param {{ format: "csv" | "ndjson", out: NodeJS.WritableStream, reason?: string, source?: string,
 *           pageLimit?: number, onPage?: (rows: number) => void }} options
 * @returns {Promise<number>} entries written
 */
export async function writeSuppressionExport(client, { format, out, reason, source, pageLimit, onPage = () => {} }) {
  /** @type {string | undefined} */
  let cursor;
  let rows = 0;
  let first = true;
  do {
    const pending = client.api.GET("/v1/admin/suppressions/export", {
      params: {
        query: {
          format,
          limit: pageLimit ?? SUPPRESSION_PAGE_LIMIT,
          ...(reason ? { reason } : {}),
          ...(source ? { source } : {}),
          ...(cursor ? { cursor } : {}),
        },
      },
      parseAs: "stream",
    });
    const { response } = await pending;
    const body = await client.call(pending);
    cursor = response.headers.get("x-next-cursor") ?? undefined;
    const input = Readable.fromWeb(/** @type {import("node:stream/web").ReadableStream} */ (body));
    let header = format === "csv";
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (header) {
        header = false;
        if (!first) continue;
      } else if (line.trim() === "") continue;
      else rows += 1;
      await write(out, `${line}\n`);
    }
    first = false;
    onPage(rows);
  } while (cursor);
  return rows;
}
