import type { ImportJob } from "../../db/schema";
import { parseCsvFast } from "./csv-fast";
import { type RowReaders, rowReaders } from "./mapped-rows";
import {
  MAX_RECORD_BYTES,
  type ReadLimits,
  type ReadResult,
  readCsvRecords,
  readNdjsonLines,
  UnreadableFileError,
} from "./readers";
import type { ImportRow } from "./rows";

/** Bytes per invocation, so a file of very wide rows is still read in bounded pieces. */
const CHUNK_MAX_BYTES = 8 * 1024 * 1024;

export type ChunkRead<Row = ImportRow> = { rows: Row[]; header: string[] | null; end: number; eof: boolean };

/**
 * Reads up to `chunkRows` rows of the job's file from its checkpoint, and where the next chunk
 * starts; `readers` turn records into rows (a contact import's, unless given).
 */
export async function readChunk<Row = ImportRow>(
  bucket: R2Bucket,
  job: ImportJob,
  chunkRows: number,
  readers: RowReaders<Row> = rowReaders(job.options) as unknown as RowReaders<Row>,
): Promise<ChunkRead<Row>> {
  const start = job.checkpointOffset;
  if (start >= job.sourceBytes) return { rows: [], header: job.header, end: start, eof: true };
  const atFileStart = start === 0;
  const limits = { maxRecords: chunkRows + (job.format === "csv" && atFileStart ? 1 : 0), maxBytes: CHUNK_MAX_BYTES };

  const result = await (job.format === "csv"
    ? readCsv(bucket, job, limits)
    : openAt(bucket, job).then((body) => readNdjsonLines(body, limits))
  ).catch((err: unknown) => {
    // The parser counts lines from this chunk's start: say where the chunk starts in the file.
    if (err instanceof UnreadableFileError && !(err instanceof MissingUploadError))
      throw new UnreadableFileError(`${err.message} (reading on from data row ${job.checkpointRow + 1})`);
    throw err;
  });
  const end = result.eof ? job.sourceBytes : start + (result.records.at(-1)?.end ?? 0);
  const firstRow = job.checkpointRow + 1;

  if (job.format !== "csv") {
    const rows = (result.records as Array<{ value: string }>).map((r, i) => readers.json(r.value, firstRow + i));
    return { rows, header: null, end, eof: result.eof };
  }
  const records = (result.records as Array<{ value: string[] }>).map((r) => r.value);
  const header = atFileStart ? records.shift() : job.header;
  if (!header) throw new UnreadableFileError("The file is empty: a CSV import needs a header row");
  const toRow = readers.csv(header);
  if ("error" in toRow) throw new UnreadableFileError(toRow.error);
  return { rows: records.map((cells, i) => toRow(cells, firstRow + i)), header, end, eof: result.eof };
}

class MissingUploadError extends UnreadableFileError {}

async function openAt(bucket: R2Bucket, job: ImportJob) {
  const start = job.checkpointOffset;
  const object = await bucket.get(job.sourceKey, start > 0 ? { range: { offset: start } } : undefined);
  if (!object) throw new MissingUploadError("The uploaded file is missing from storage");
  return object.body;
}

/** The fast path on the chunk's bytes; csv-parse from the same offset for the shapes it doesn't take. */
async function readCsv(bucket: R2Bucket, job: ImportJob, limits: ReadLimits): Promise<ReadResult<string[]>> {
  const atFileStart = job.checkpointOffset === 0;
  const { bytes, eof } = await readBytes(await openAt(bucket, job), limits);
  const fast = parseCsvFast({
    bytes,
    eof,
    atFileStart,
    maxRecords: limits.maxRecords,
    maxRecordChars: MAX_RECORD_BYTES,
  });
  return fast ?? readCsvRecords(await openAt(bucket, job), limits, { atFileStart });
}

/** Bytes from the stream until they hold more line breaks than records wanted, or reach maxBytes. */
async function readBytes(body: ReadableStream<Uint8Array>, { maxRecords, maxBytes }: ReadLimits) {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  let lineBreaks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: join(parts, total), eof: true };
    parts.push(value);
    total += value.length;
    for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lineBreaks += 1;
    if (lineBreaks > maxRecords || total >= maxBytes) {
      await reader.cancel();
      return { bytes: join(parts, total), eof: false };
    }
  }
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
