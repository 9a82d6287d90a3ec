import { env } from "cloudflare:workers";
import { buildDeps } from "../src/composition";
import { createDb } from "../src/db/client";
import { type ImportFormat, importJobs } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import type { ImportChunkMessage } from "../src/lib/queues";
import { processImportChunk } from "../src/services/imports/chunk";
import { uploadKey } from "../src/services/imports/jobs";
import { adminAuth, adminGet, adminPost, call } from "./helpers";

export type JobBody = {
  id: string;
  status: string;
  fileName: string | null;
  format: string;
  totalRows: number | null;
  processedRows: number;
  failedRows: number;
  errors: Array<{ row: number; error: string }>;
  errorCount: number;
  error: string | null;
  bytesProcessed: number;
  bytesTotal: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  dryRun: boolean;
  preset: string | null;
  mapping: Record<string, unknown> | null;
  types: Record<string, string> | null;
  wouldCreate: number | null;
  wouldUpdate: number | null;
};

export type JobRow = {
  id: string;
  status: string;
  checkpoint_offset: number;
  checkpoint_row: number;
  processed_rows: number;
  failed_rows: number;
  total_rows: number | null;
};

export const jobRow = (id: string) => env.DB.prepare("SELECT * FROM import_jobs WHERE id = ?").bind(id).first<JobRow>();

export const getJob = async (id: string) =>
  (await (await adminGet(`/v1/admin/contacts/import/${id}`)).json()) as JobBody;

/** Starts an import with the documented JSON envelope and returns the job id. */
export async function startImport(
  envelope: { format: string; data: string; fileName?: string } & Record<string, unknown>,
) {
  const res = await adminPost("/v1/admin/contacts/import", envelope);
  if (res.status !== 202) throw new Error(`import answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { jobId: string }).jobId;
}

export function uploadRaw(body: BodyInit, contentType: string, query = "") {
  return call(`/v1/admin/contacts/import${query}`, {
    method: "POST",
    headers: { ...adminAuth(), "content-type": contentType },
    body,
  });
}

/** The real bindings, except that follow-up messages go to a queue nobody consumes, so the test alone drives chunks. */
export const testDeps = () => ({ ...buildDeps(env).imports, queue: env.TEST_IDLE_QUEUE as Queue<ImportChunkMessage> });

/**
 * Runs a job's chunks to the end in this test, chunk by chunk from its checkpoint, rather than
 * waiting for queue delivery. The queue's own copies of the messages arrive later and are no-ops.
 */
export async function drainImport(jobId: string, chunkRows?: number, maxChunks = 200): Promise<JobBody> {
  for (let i = 0; i < maxChunks; i++) {
    const job = await jobRow(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (!["pending", "processing"].includes(job.status)) return getJob(jobId);
    await processImportChunk(testDeps(), { jobId, offset: job.checkpoint_offset }, { chunkRows });
  }
  throw new Error(`job ${jobId} did not finish in ${maxChunks} chunks`);
}

/** A job row and its upload, as the import route leaves them, but with no queue message sent. */
export async function seedJob(format: ImportFormat, content: string, { sourceBytes }: { sourceBytes?: number } = {}) {
  const id = newId();
  const bytes = new TextEncoder().encode(content);
  await env.IMPORT_UPLOADS.put(uploadKey(id), bytes);
  const now = new Date();
  await createDb(env.DB)
    .insert(importJobs)
    .values({
      id,
      status: "pending",
      format,
      fileName: `${format}-seed`,
      sourceKey: uploadKey(id),
      sourceBytes: sourceBytes ?? bytes.byteLength,
      createdAt: now,
      updatedAt: now,
    });
  return id;
}

export type ContactRow = { external_id: string; email: string | null; properties: string };
export async function contactsTagged(tag: string) {
  const { results } = await env.DB.prepare(
    "SELECT external_id, email, properties FROM contacts WHERE external_id LIKE ? ORDER BY external_id",
  )
    .bind(`${tag}%`)
    .all<ContactRow>();
  return results.map((r) => ({
    externalId: r.external_id,
    email: r.email,
    properties: JSON.parse(r.properties) as Record<string, unknown>,
  }));
}
