import { parse } from "csv-parse/stream";

/** A record and the byte offset just past it (relative to where reading started). */
export type ReadRecord<T> = { value: T; end: number };
export type ReadResult<T> = { records: Array<ReadRecord<T>>; eof: boolean };

/** Why a file can't be read at all: becomes the job's `failed` message. */
export class UnreadableFileError extends Error {}

export type ReadLimits = { maxRecords: number; maxBytes: number };

/** A single record bigger than this is taken as a broken file (e.g. an unclosed quote), not read on. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Reads CSV records from a byte stream that starts at a record boundary, stopping after
 * `maxRecords` records or once `maxBytes` are consumed. csv-parse reports, per record, how many
 * bytes it consumed up to and including the record's line break: that is the next checkpoint.
 */
export async function readCsvRecords(
  body: ReadableStream<Uint8Array>,
  limits: ReadLimits,
  { atFileStart }: { atFileStart: boolean },
): Promise<ReadResult<string[]>> {
  const parser = parse({
    info: true,
    bom: atFileStart,
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
    max_record_size: MAX_RECORD_BYTES,
  });
  const records: Array<ReadRecord<string[]>> = [];
  try {
    for await (const item of body.pipeThrough(parser) as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      records.push({ value: item.record, end: item.info.bytes });
      if (records.length >= limits.maxRecords || item.info.bytes >= limits.maxBytes) return { records, eof: false };
    }
  } catch (err) {
    throw new UnreadableFileError(`Unreadable CSV: ${(err as Error).message}`);
  }
  return { records, eof: true };
}

/**
 * Reads NDJSON lines (LF or CRLF) from a byte stream that starts at a line boundary. Blank lines
 * are skipped (they are not rows) but their bytes still move the offset.
 */
export async function readNdjsonLines(
  body: ReadableStream<Uint8Array>,
  limits: ReadLimits,
): Promise<ReadResult<string>> {
  const reader = body.getReader();
  const records: Array<ReadRecord<string>> = [];
  let pending: Uint8Array = new Uint8Array(0);
  let pendingStart = 0; // offset of pending[0] from where reading started

  const take = (bytes: Uint8Array, end: number) => {
    // The decoder drops a leading UTF-8 BOM (it resets per call, so any line's would go; only the first has one).
    const text = decoder.decode(bytes).replace(/\r$/, "");
    if (text.trim() !== "") records.push({ value: text, end });
  };

  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      if (pending.length > 0) take(pending, pendingStart + pending.length);
      return { records, eof: true };
    }
    pending = concat(pending, value);
    let lineStart = 0;
    for (let nl = pending.indexOf(10); nl !== -1; nl = pending.indexOf(10, lineStart)) {
      take(pending.subarray(lineStart, nl), pendingStart + nl + 1);
      lineStart = nl + 1;
      const last = records.at(-1);
      if (records.length >= limits.maxRecords || (last && last.end >= limits.maxBytes)) {
        await reader.cancel();
        return { records, eof: false };
      }
    }
    pendingStart += lineStart;
    pending = pending.slice(lineStart);
    if (pending.length > MAX_RECORD_BYTES) {
      await reader.cancel();
      throw new UnreadableFileError(`Unreadable NDJSON: a line is longer than ${MAX_RECORD_BYTES} bytes`);
    }
  }
}

const decoder = new TextDecoder("utf-8");

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
