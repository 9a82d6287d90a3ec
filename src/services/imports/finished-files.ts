import { and, inArray, lt, sql } from "drizzle-orm";
import { importJobs } from "../../db/schema";
import { chunkForParams } from "../../lib/sql";
import type { ImportDeps } from "./jobs";

/** How long a job's files outlive it: a last chunk message already in flight may still read them. */
export const FINISHED_FILES_GRACE_MS = 10 * 60_000;
/** One list call; objects of jobs still running (or with no job row) are skipped, not waited on. */
const LIST_LIMIT = 1000;

/**
 * Deletes the R2 files (the upload, a JSON array's NDJSON rewrite) of import jobs that ended
 * (completed, failed, cancelled) more than the grace ago. Nothing reads them after that, and they
 * hold every row of the file: erased people included. Files of running jobs and objects with no
 * job row (an upload being completed) are left alone. The number of objects deleted.
 */
export async function deleteFinishedImportFiles(deps: ImportDeps, now = Date.now()): Promise<number> {
  const listed = await deps.bucket.list({ prefix: "imports/", limit: LIST_LIMIT });
  const keysByJob = new Map<string, string[]>();
  for (const { key } of listed.objects) {
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
