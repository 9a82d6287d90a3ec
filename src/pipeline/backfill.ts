import { runPlans } from "../db/batch-plan";
import { getJourney } from "../journeys/registry";
import { notFound } from "../lib/errors";
import { type BackfillInput, createBackfillJob, noSkips } from "../services/backfills/jobs";
import { previewEntriesPlan } from "../services/entry-guards";
import { loadJob } from "../services/imports/job-state";
import { segmentPage } from "../services/segments";
import { hashedAddresses } from "../services/suppressions";
import type { BackfillPageDeps } from "./backfill-page";

/** A dry run answers in the request when the whole segment fits in one read of this many contacts… */
export const DRY_RUN_SYNC_MAX = 1000;
/** …found among at most this many contacts; a bigger segment becomes a dry-run job. */
export const DRY_RUN_SYNC_SCAN = 10_000;

export type BackfillPreview = {
  dryRun: true;
  matched: number;
  enrolled: number;
  skipped: ReturnType<typeof noSkips>;
};

/**
 * Starts a backfill of a journey from a segment of contacts: a job walked page by page through the
 * backfill queue, or, for a dry run over a small segment, the answer itself.
 */
export async function startBackfill(
  deps: BackfillPageDeps,
  input: BackfillInput,
): Promise<{ job: Awaited<ReturnType<typeof createBackfillJob>> } | { preview: BackfillPreview }> {
  const journey = getJourney(input.journeyKey);
  if (input.filter.importJobId && !(await loadJob(deps.db, input.filter.importJobId))) throw notFound("Import job");
  if (input.dryRun) {
    const take = Math.min(input.limit ?? DRY_RUN_SYNC_MAX, DRY_RUN_SYNC_MAX);
    const page = await segmentPage(deps.db, {
      filter: input.filter,
      trigger: journey.trigger.where,
      after: "",
      take,
      scan: DRY_RUN_SYNC_SCAN,
    });
    if (page.exhausted || page.rows.length === input.limit) {
      const hashes = await hashedAddresses(
        deps.hash,
        page.rows.map((row) => row.email),
      );
      const candidates = page.rows.map((row, i) => ({
        userId: row.externalId,
        triggerEventId: null,
        triggerMatched: row.triggerMatched === 1,
        givenEmail: false,
        emailHash: hashes[i],
      }));
      const [decisions] = await runPlans(deps.db, previewEntriesPlan(deps.db, journey, candidates));
      const preview: BackfillPreview = { dryRun: true, matched: decisions.length, enrolled: 0, skipped: noSkips() };
      for (const d of decisions) {
        if (d.enrolled) preview.enrolled += 1;
        else preview.skipped[d.reason] += 1;
      }
      return { preview };
    }
  }
  return { job: await createBackfillJob(deps, input) };
}
