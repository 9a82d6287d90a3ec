import { and, eq, lt, or } from "drizzle-orm";
import { runBatch } from "../../db/client";
import {
  type ImportFormat,
  type ImportOptions,
  type ImportUpload,
  type ImportUploadStatus,
  importJobs,
  importUploads,
} from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { errorFields, log } from "../../lib/log";
import { type AuditDraft, auditStatements } from "../audit-log";
import { type ImportDeps, pendingJob, uploadKey } from "./jobs";

/** R2's multipart rules: every part but the last at least 5 MiB, all of them the same size; up to 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Cloudflare's request-body limit: one part is one request. */
export const MAX_PART_BYTES = 100 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** An upload not completed within this is aborted by the cron, and its parts deleted. */
export const UPLOAD_TTL_MS = 24 * 3600_000;
/** A completion takes seconds; one still "completing" after this died half-way. */
export const COMPLETING_STALE_MS = 3600_000;

export function uploadView(upload: ImportUpload) {
  return {
    uploadId: upload.id,
    status: upload.status,
    format: upload.format,
    fileName: upload.fileName,
    minPartBytes: MIN_PART_BYTES,
    maxPartBytes: MAX_PART_BYTES,
    maxParts: MAX_PARTS,
    createdAt: upload.createdAt,
    expiresAt: new Date(upload.createdAt.getTime() + UPLOAD_TTL_MS),
  };
}

/** Starts an R2 multipart upload at the key the import job will read, and records it. */
export async function createUpload(
  deps: ImportDeps,
  input: { format: ImportFormat; fileName?: string; options?: ImportOptions; audit?: AuditDraft },
  now = new Date(),
) {
  const id = newId();
  const multipart = await deps.bucket.createMultipartUpload(uploadKey(id));
  const counts = { minPartBytes: MIN_PART_BYTES, maxPartBytes: MAX_PART_BYTES, maxParts: MAX_PARTS };
  const insert = deps.db
    .insert(importUploads)
    .values({
      id,
      status: "open",
      format: input.format,
      fileName: input.fileName ?? null,
      options: input.options && Object.keys(input.options).length > 0 ? input.options : null,
      r2Key: multipart.key,
      r2UploadId: multipart.uploadId,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const results = await runBatch(deps.db, [
    ...auditStatements(deps.db, input.audit, { targetIds: [id], counts }),
    insert,
  ]);
  const [upload] = results.at(-1) as ImportUpload[];
  return uploadView(upload!);
}

export type PartInput = { uploadId: string; partNumber: number; body: ReadableStream<Uint8Array>; byteLength: number };

/** Streams one part into R2. Sending a part number again replaces that part. */
export async function uploadPart(deps: ImportDeps, input: PartInput) {
  const upload = await openUpload(deps, input.uploadId);
  const multipart = deps.bucket.resumeMultipartUpload(upload.r2Key, upload.r2UploadId);
  // R2 needs a part's length up front; the stream errors if the body disagrees with Content-Length.
  const { readable, writable } = new FixedLengthStream(input.byteLength);
  try {
    const [, part] = await Promise.all([input.body.pipeTo(writable), multipart.uploadPart(input.partNumber, readable)]);
    return { partNumber: part.partNumber, etag: part.etag, size: input.byteLength };
  } catch (err) {
    log.warn("upload part to R2 failed", { uploadId: upload.id, partNumber: input.partNumber, ...errorFields(err) });
    throw new AppError("BAD_REQUEST", "The part's body ended before Content-Length bytes (or R2 refused it)");
  }
}

/**
 * Completes the R2 object and turns it into one import job (the upload's id becomes the job's id),
 * queued like any other. A refused completion (a missing part, a wrong etag, parts of the wrong
 * sizes) leaves the upload open, so the caller can fix the list or re-send parts and try again.
 */
export async function completeUpload(
  deps: ImportDeps,
  input: { uploadId: string; parts: R2UploadedPart[]; audit?: AuditDraft },
  now = new Date(),
) {
  const upload = await claim(deps, input.uploadId, "open", "completing", now);
  let object: R2Object;
  try {
    const multipart = deps.bucket.resumeMultipartUpload(upload.r2Key, upload.r2UploadId);
    object = await multipart.complete([...input.parts].sort((a, b) => a.partNumber - b.partNumber));
  } catch (err) {
    await setStatus(deps, upload.id, "open", now);
    throw new AppError(
      "BAD_REQUEST",
      `R2 refused to complete the upload (${(err as Error).message}). List every part sent, with the etag its upload returned; every part except the last must be the same size and at least 5 MiB, and the last no bigger than the others.`,
    );
  }
  await recordJob(deps, upload, object, now, input.audit);
  try {
    await deps.queue.send({ jobId: upload.id, offset: 0 });
  } catch (err) {
    // The job exists and is pending: the cron re-enqueues pending jobs that make no progress.
    log.warn("import job queued by the cron instead", { jobId: upload.id, ...errorFields(err) });
  }
  return { jobId: upload.id, status: "pending" as const, bytesTotal: object.size };
}

/** The job row and the upload's new status in one batch; if that fails the assembled object goes too. */
async function recordJob(deps: ImportDeps, upload: ImportUpload, object: R2Object, now: Date, audit?: AuditDraft) {
  try {
    await runBatch(deps.db, [
      ...auditStatements(deps.db, audit, { targetIds: [upload.id], counts: { bytesTotal: object.size } }),
      deps.db.insert(importJobs).values(pendingJob({ ...upload, jobId: upload.id, sourceBytes: object.size }, now)),
      deps.db.update(importUploads).set({ status: "completed", updatedAt: now }).where(eq(importUploads.id, upload.id)),
    ]);
  } catch (err) {
    await deps.bucket.delete(upload.r2Key);
    await setStatus(deps, upload.id, "aborted", now);
    throw err;
  }
}

/** Discards an open upload and its parts. */
export async function abortUpload(deps: ImportDeps, uploadId: string, audit?: AuditDraft, now = new Date()) {
  const upload = await claim(deps, uploadId, "open", "aborted", now, audit);
  await abortInR2(deps, upload);
  return uploadView({ ...upload, status: "aborted" });
}

/**
 * The cron's part: uploads left open past their time to live, or stuck completing, are aborted in
 * R2 and marked expired.
 */
export async function expireStaleUploads(deps: ImportDeps, now = Date.now()): Promise<number> {
  const stale = await deps.db
    .select()
    .from(importUploads)
    .where(
      or(
        and(eq(importUploads.status, "open"), lt(importUploads.createdAt, new Date(now - UPLOAD_TTL_MS))),
        // By updatedAt: a completion that started just before the time to live ran out must not be cut off.
        and(eq(importUploads.status, "completing"), lt(importUploads.updatedAt, new Date(now - COMPLETING_STALE_MS))),
      ),
    )
    .limit(100);
  let expired = 0;
  for (const upload of stale) {
    const [claimed] = await deps.db
      .update(importUploads)
      .set({ status: "expired", updatedAt: new Date(now) })
      .where(and(eq(importUploads.id, upload.id), eq(importUploads.status, upload.status)))
      .returning();
    if (!claimed) continue;
    await abortInR2(deps, upload);
    // A completion that died after R2 assembled the object leaves the object with no job.
    if (upload.status === "completing") await deps.bucket.delete(upload.r2Key);
    expired += 1;
  }
  return expired;
}

async function abortInR2(deps: ImportDeps, upload: ImportUpload) {
  try {
    await deps.bucket.resumeMultipartUpload(upload.r2Key, upload.r2UploadId).abort();
  } catch (err) {
    // R2's own lifecycle rule removes incomplete multipart uploads after 7 days.
    log.warn("R2 multipart abort failed", { uploadId: upload.id, ...errorFields(err) });
  }
}

async function openUpload(deps: ImportDeps, uploadId: string): Promise<ImportUpload> {
  const [upload] = await deps.db.select().from(importUploads).where(eq(importUploads.id, uploadId));
  if (!upload) throw notFound("Upload");
  if (upload.status !== "open") throw new AppError("CONFLICT", `Upload is ${upload.status}`);
  return upload;
}

/** Moves the upload from one status to the next, atomically: one caller wins, the others get 409. */
async function claim(
  deps: ImportDeps,
  uploadId: string,
  from: ImportUploadStatus,
  to: ImportUploadStatus,
  now: Date,
  audit?: AuditDraft,
) {
  const update = deps.db
    .update(importUploads)
    .set({ status: to, updatedAt: now })
    .where(and(eq(importUploads.id, uploadId), eq(importUploads.status, from)))
    .returning();
  const [claimed] = (await runBatch(deps.db, [...auditStatements(deps.db, audit), update])).at(-1) as ImportUpload[];
  if (claimed) return claimed;
  await openUpload(deps, uploadId); // throws 404 or 409
  throw new AppError("CONFLICT", "Upload changed status meanwhile");
}

function setStatus(deps: ImportDeps, uploadId: string, status: ImportUploadStatus, now: Date) {
  return deps.db.update(importUploads).set({ status, updatedAt: now }).where(eq(importUploads.id, uploadId));
}
