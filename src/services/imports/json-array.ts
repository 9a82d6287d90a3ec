import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type ImportJob, importJobs } from "../../db/schema";

/** JSON arrays are parsed whole (they can't be cut at a record boundary), so they are capped. */
export const MAX_JSON_ARRAY_BYTES = 10 * 1024 * 1024;

export const ndjsonKey = (jobId: string) => `imports/${jobId}/rows.ndjson`;

/**
 * Rewrites a JSON-array upload as NDJSON (one item per line) so it is read in chunks like any
 * NDJSON file; the item count is the job's `totalRows` from here on. Returns the updated job, a
 * job-level error, or null when another invocation already moved the job on.
 */
export async function convertJsonArray(
  deps: { db: Database; bucket: R2Bucket },
  job: ImportJob,
  now: Date,
): Promise<{ job: ImportJob } | { error: string } | null> {
  if (job.sourceBytes > MAX_JSON_ARRAY_BYTES) {
    return {
      error: `JSON arrays over ${MAX_JSON_ARRAY_BYTES / 1024 / 1024} MB can't be imported: send the file as NDJSON (format=ndjson, one object per line)`,
    };
  }
  const object = await deps.bucket.get(job.sourceKey);
  if (!object) return { error: "The uploaded file is missing from storage" };
  let items: unknown;
  try {
    items = JSON.parse(await object.text());
  } catch (err) {
    return { error: `Malformed JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(items)) return { error: "A JSON import must be an array of contact objects" };

  const ndjson = new TextEncoder().encode(items.map((item) => JSON.stringify(item)).join("\n"));
  const key = ndjsonKey(job.id);
  await deps.bucket.put(key, ndjson);
  const [updated] = await deps.db
    .update(importJobs)
    .set({ sourceKey: key, sourceBytes: ndjson.byteLength, totalRows: items.length, updatedAt: now })
    .where(and(eq(importJobs.id, job.id), eq(importJobs.sourceKey, job.sourceKey), eq(importJobs.status, "processing")))
    .returning();
  return updated ? { job: updated } : null;
}
