import type { Database } from "../../db/client";
import type { ImportJob, ImportOptions } from "../../db/schema";
import { keysetPage } from "../../lib/sql";
import type { AuditDraft } from "../audit-log";
import {
  type CreateImportInput,
  cancelJob,
  createImportJob,
  type ImportDeps,
  jobProgressView,
  listJobRows,
  loadJobWithErrors,
} from "../imports/jobs";

/** A suppression import: its counts are suppressed, already suppressed and invalid (the failed rows). */
export function suppressionJobView(job: ImportJob) {
  const options: ImportOptions = job.options ?? {};
  return {
    ...jobProgressView(job),
    suppressed: job.processedRows - job.alreadySuppressed,
    alreadySuppressed: job.alreadySuppressed,
    invalid: job.failedRows,
    dryRun: options.dryRun === true,
    preset: options.suppressionPreset ?? null,
    mapping: options.mapping ?? null,
    reason: options.reason ?? null,
    source: options.source ?? null,
  };
}

/** Stores the file and queues the job, as a contact import does; its chunks write suppressions only. */
export function createSuppressionImport(deps: ImportDeps, input: CreateImportInput) {
  return createImportJob(deps, { ...input, options: { ...input.options, kind: "suppressions" } });
}

export async function getSuppressionImport(db: Database, jobId: string) {
  const { job, errors } = await loadJobWithErrors(db, jobId, "suppressions");
  return { ...suppressionJobView(job), errors, errorCount: job.failedRows };
}

export async function listSuppressionImports(db: Database, query: { limit: number; cursor?: string }) {
  const { page, nextCursor } = keysetPage(await listJobRows(db, query, "suppressions"), query.limit);
  return { imports: page.map(suppressionJobView), nextCursor };
}

export async function cancelSuppressionImport(db: Database, jobId: string, audit?: AuditDraft) {
  await cancelJob(db, jobId, "suppressions", audit);
  return getSuppressionImport(db, jobId);
}
