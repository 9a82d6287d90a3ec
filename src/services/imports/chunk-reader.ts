import type { ImportJob } from "../../db/schema";
import { rowReaders } from "./mapped-rows";
import { readCsvRecords, readNdjsonLines, UnreadableFileError } from "./readers";
import type { ImportRow } from "./rows";

/** Bytes per invocation, so a file of very wide rows is still read in bounded pieces. */
const CHUNK_MAX_BYTES = 8 * 1024 * 1024;

export type ChunkRead = { rows: ImportRow[]; header: string[] | null; end: number; eof: boolean };

/** Reads up to `chunkRows` rows of the job's file from its checkpoint, and where the next chunk starts. */
export async function readChunk(bucket: R2Bucket, job: ImportJob, chunkRows: number): Promise<ChunkRead> {
  const start = job.checkpointOffset;
  if (start >= job.sourceBytes) return { rows: [], header: job.header, end: start, eof: true };
  const object = await bucket.get(job.sourceKey, start > 0 ? { range: { offset: start } } : undefined);
  if (!object) throw new UnreadableFileError("The uploaded file is missing from storage");
  const atFileStart = start === 0;
  const limits = { maxRecords: chunkRows + (job.format === "csv" && atFileStart ? 1 : 0), maxBytes: CHUNK_MAX_BYTES };

  const result = await (job.format === "csv"
    ? readCsvRecords(object.body, limits, { atFileStart })
    : readNdjsonLines(object.body, limits)
  ).catch((err: unknown) => {
    // The parser counts lines from this chunk's start: say where the chunk starts in the file.
    if (err instanceof UnreadableFileError)
      throw new UnreadableFileError(`${err.message} (reading on from data row ${job.checkpointRow + 1})`);
    throw err;
  });
  const end = result.eof ? job.sourceBytes : start + (result.records.at(-1)?.end ?? 0);
  const firstRow = job.checkpointRow + 1;
  const readers = rowReaders(job.options);

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
