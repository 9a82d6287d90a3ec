import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { buildDeps } from "../src/composition";
import type { BackfillPageMessage, JourneyStartMessage } from "../src/lib/queues";
import { processBackfillPage } from "../src/pipeline/backfill-page";
import { adminGet, adminPost } from "./helpers";
import { drainImport, seedJob } from "./imports-helpers";

export type BackfillBody = {
  id: string;
  journeyKey: string;
  status: string;
  dryRun: boolean;
  matched: number;
  enrolled: number;
  skipped: Record<string, number>;
  pages: number;
  error: string | null;
  finishedAt: string | null;
};

export const backfill = (journey: string, json: unknown) => adminPost(`/v1/admin/journeys/${journey}/backfill`, json);
export const getBackfill = async (id: string) =>
  (await (await adminGet(`/v1/admin/journeys/backfills/${id}`)).json()) as BackfillBody;

/** The real bindings, except that follow-ups and workflow starts go to a queue nobody consumes. */
export const idleDeps = () => ({
  ...buildDeps(env).backfills,
  queue: env.TEST_IDLE_QUEUE as Queue<BackfillPageMessage>,
  journeyStarts: env.TEST_IDLE_QUEUE as Queue<JourneyStartMessage>,
});

const jobCursor = async (id: string) =>
  (await env.DB.prepare("SELECT status, cursor FROM backfill_jobs WHERE id = ?")
    .bind(id)
    .first<{ status: string; cursor: string }>())!;

/** Runs a job's pages in this test from its cursor; the queue's own copies arrive later as no-ops. */
export async function drainBackfill(id: string, maxPages = 500): Promise<BackfillBody> {
  for (let i = 0; i < maxPages; i++) {
    const job = await jobCursor(id);
    if (!["pending", "processing"].includes(job.status)) return getBackfill(id);
    await processBackfillPage(idleDeps(), { jobId: id, cursor: job.cursor });
  }
  throw new Error(`backfill ${id} did not finish in ${maxPages} pages`);
}

/** Imports a file through the real chunk path; returns the import job id. */
export async function importCsv(csv: string, format: "csv" | "ndjson" = "csv"): Promise<string> {
  const jobId = await seedJob(format, csv);
  expect((await drainImport(jobId)).status).toBe("completed");
  return jobId;
}

export const enrollmentsFor = async (journey: string, importJobId: string) =>
  (await env.DB.prepare(
    "SELECT count(*) AS n FROM enrollments e JOIN contacts c ON c.external_id = e.user_id WHERE e.journey_key = ? AND c.import_job_id = ?",
  )
    .bind(journey, importJobId)
    .first<{ n: number }>())!.n;
