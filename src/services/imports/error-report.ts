import { and, asc, eq, gt } from "drizzle-orm";
import type { Database } from "../../db/client";
import { importErrors, importJobs } from "../../db/schema";
import { csvLine, restoreFormulaCell } from "../../lib/csv";
import { notFound } from "../../lib/errors";
import { textStream } from "../../lib/stream";

const PAGE_ROWS = 200;

/**
 * The failed rows as CSV, ready to fix and import again: for a CSV import, the file's own columns
 * with the original cells, then `row` and `error`; for JSON/NDJSON, the original object in `data`.
 */
export async function importErrorsCsv(db: Database, jobId: string): Promise<ReadableStream<Uint8Array>> {
  const [job] = await db
    .select({ format: importJobs.format, header: importJobs.header })
    .from(importJobs)
    .where(eq(importJobs.id, jobId));
  if (!job) throw notFound("Import job");
  // Cells go out as the import read them (neutralised again by csvLine), so the file re-imports the same.
  const columns = job.format === "csv" ? (job.header ?? []).map(restoreFormulaCell) : ["data"];

  let afterRow: number | null = null;
  let headerSent = false;
  return textStream(async () => {
    if (!headerSent) {
      headerSent = true;
      return csvLine([...columns, "row", "error"]);
    }
    if (afterRow === -1) return null;
    const page = await db
      .select()
      .from(importErrors)
      .where(and(eq(importErrors.jobId, jobId), afterRow === null ? undefined : gt(importErrors.row, afterRow)))
      .orderBy(asc(importErrors.row))
      .limit(PAGE_ROWS);
    if (page.length === 0) return null;
    afterRow = page.length < PAGE_ROWS ? -1 : page.at(-1)!.row;
    return page
      .map((e) => csvLine([...originalCells(job.format, columns.length, e.data), String(e.row), e.error]))
      .join("");
  });
}

function originalCells(format: string, width: number, data: string | null): string[] {
  if (format !== "csv") return [data ?? ""];
  const cells = data ? (JSON.parse(data) as string[]).map(restoreFormulaCell) : [];
  return cells.length >= width ? cells : [...cells, ...Array<string>(width - cells.length).fill("")];
}
