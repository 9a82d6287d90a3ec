import { and, inArray, lt, sql } from "drizzle-orm";
import { importJobs } from "../../db/schema";
import { chunkForParams } from "../../lib/sql";
import type { ImportDeps } from "./jobs";

/** How long a job's files outlive it: a last chunk message already in flight may still read them. */
export const FINISHED_FILES_GRACE_MS = 10 * 60_000;
/** Objects per list call, and list calls per run: a run looks at up to 10,000 objects. */
const LIST_LIMIT = 1000;
const MAX_PAGES = 10;

/**
 * Deletes the R2 files (the upload, a JSON array's NDJSON rewrite) of import jobs that ended
 * (completed, failed, cancelled) more than the grace ago. Nothing reads them after that, and they
 * hold every row of the file: erased people included. Files of running jobs and objects with no
 * job row (an upload being completed) are left alone, and the listing goes on past them, so a
 * thousand of them can't hide an ended job's file. The number of objects deleted.
 */
export async function deleteFinishedImportFiles(
  deps: ImportDeps,
  now = Date.now(),
  { pageSize = LIST_LIMIT }: { pageSize?: number } = {},
): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const listed = await deps.bucket.list({ prefix: "imports/", limit: pageSize, cursor });
    deleted += await deleteEndedJobsFiles(deps, listed.objects, now);
    if (!listed.truncated) break;
    cursor = listed.cursor;
  }
  return deleted;
}

async function deleteEndedJobsFiles(deps: ImportDeps, objects: R2Object[], now: number): Promise<number> {
  const keysByJob = new Map<string, string[]>();
  for (const { key } of objects) {
    const jobId = key.split("/")[1] ?? "";
    keysByJob.set(jobId, [...(keysByJob.get(jobId) ?? []), key]);
  }
  const ended: string[] = [];
  for (const ids of chunkForParams([...keysByJob.keys()], 1, 90)) {
    const rows = await deps.db
      .select({ id: importJobs.id })
      .from(importJobs)
      .where(
        and(
          inArray(importJobs.id, ids),
          inArray(importJobs.status, ["completed", "failed", "cancelled"]),
          lt(sql`coalesce(${importJobs.finishedAt}, ${importJobs.updatedAt})`, now - FINISHED_FILES_GRACE_MS),
        ),
      );
    ended.push(...rows.map((row) => row.id));
  }
  const keys = ended.flatMap((id) => keysByJob.get(id) ?? []);
  if (keys.length > 0) await deps.bucket.delete(keys);
  return keys.length;
}
