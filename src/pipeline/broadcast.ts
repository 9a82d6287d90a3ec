import type { BroadcastSample, Properties } from "../db/schema";
import { getTemplate, parseTemplateData, renderTemplate, templates } from "../emails/registry";
import { getTopic } from "../emails/topics";
import { AppError, notFound } from "../lib/errors";
import { type Fate, outcomeOfWhy, previewFates, SKIP_KINDS, type SkipKind } from "../services/broadcasts/fates";
import { type BroadcastInput, createBroadcast, findBroadcastByKey } from "../services/broadcasts/jobs";
import { preferenceUrl } from "../services/emails";
import { loadJob } from "../services/imports/job-state";
import { segmentPage } from "../services/segments";
import { DRY_RUN_SYNC_MAX, DRY_RUN_SYNC_SCAN } from "./backfill";
import type { BackfillPageDeps } from "./backfill-page";

/** What a caller asks for: the stored broadcast's input, with `data` optional and no samples yet. */
export type BroadcastRequest = Omit<BroadcastInput, "data" | "samples"> & { data?: Properties };

export type BroadcastPreview = {
  dryRun: true;
  targeted: number;
  queued: number;
  skipped: Record<SkipKind, number>;
  samples: BroadcastSample[];
};

export const SAMPLE_RENDERS = 3;

/**
 * Starts a broadcast: a job walked page by page on the backfill queue (the same walk, ledger and
 * recovery as a journey backfill), or, for a dry run over a small segment, the preview itself.
 * Every dry run renders three samples for real recipients (the first who would be sent to).
 */
export async function startBroadcast(
  deps: BackfillPageDeps,
  request: BroadcastRequest,
  now = new Date(),
): Promise<{ broadcastId: string; created: boolean } | { preview: BroadcastPreview }> {
  const input = checked(request);
  if (request.filter.importJobId && !(await loadJob(deps.db, request.filter.importJobId))) throw notFound("Import job");
  if (request.idempotencyKey) {
    // A repeat answers the first broadcast before any work (D1's unique index still decides races).
    const existing = await findBroadcastByKey(deps.db, request.idempotencyKey);
    if (existing) return { broadcastId: existing, created: false };
  }
  if (!input.dryRun) return created(await createBroadcast(deps, input, now));
  const page = await segmentPage(deps.db, {
    filter: input.filter,
    after: "",
    take: DRY_RUN_SYNC_MAX,
    scan: DRY_RUN_SYNC_SCAN,
  });
  const fates = await previewFates(deps.db, deps.hash, {
    broadcast: { id: "", templateKey: input.template, data: input.data, topicKey: input.topic },
    rows: page.rows,
    max: deps.sending.maxPerAddressPerDay,
    now,
  });
  const samples = await renderSamples(deps, input, fates);
  if (page.exhausted) return { preview: previewOf(fates, samples) };
  return created(await createBroadcast(deps, { ...input, samples }, now));
}

const created = ({ id, created }: { id: string; created: boolean }) => ({ broadcastId: id, created });

/** The request with its template data parsed and its template and topic checked. */
function checked(request: BroadcastRequest): BroadcastInput & { data: Properties } {
  if (!templates.has(request.template))
    throw new AppError("VALIDATION_ERROR", `template: unknown template "${request.template}"`);
  const template = getTemplate(request.template);
  if (template.transactional)
    throw new AppError(
      "VALIDATION_ERROR",
      "template: a transactional template can't be broadcast (it would ignore opt-outs)",
    );
  getTopic(request.topic);
  const data = parseTemplateData(template, request.data ?? {}) as Properties;
  return { ...request, data };
}

function previewOf(fates: Fate[], samples: BroadcastSample[]): BroadcastPreview {
  const skipped = Object.fromEntries(SKIP_KINDS.map((k) => [k, 0])) as Record<SkipKind, number>;
  let queued = 0;
  for (const fate of fates) {
    const outcome = outcomeOfWhy(fate.why);
    if (outcome === "queued") queued += 1;
    else skipped[outcome as SkipKind] += 1;
  }
  return { dryRun: true, targeted: fates.length, queued, skipped, samples };
}

async function renderSamples(deps: BackfillPageDeps, input: BroadcastInput, fates: Fate[]) {
  const rules = { topicKey: input.topic, transactional: false };
  const chosen = fates.filter((f) => f.why === null && f.addr).slice(0, SAMPLE_RENDERS);
  return Promise.all(
    chosen.map(async (fate): Promise<BroadcastSample> => {
      const unsubscribeUrl = await preferenceUrl(deps.sending, fate.cid, rules);
      const rendered = await renderTemplate(input.template, input.data, { unsubscribeUrl });
      return { contactId: fate.cid, to: fate.addr!, ...rendered };
    }),
  );
}
