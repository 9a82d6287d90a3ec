import { buildDeps } from "../composition";
import { log, redactMessage } from "../lib/log";
import { scrubArchive } from "../services/archive-scrub";
import { archiveOldAuditEntries } from "../services/audit-archive";
import { pruneWebhookDeliveries } from "../services/email-events";
import { deleteFinishedImportFiles } from "../services/imports/finished-files";
import { archiveOldEvents, dropOldEmailBodies } from "../services/retention";
import { sweepWebhookDeliveries } from "../services/webhooks/deliveries";
import { pruneSettledWebhookDeliveries } from "../services/webhooks/prune";
import { expireImportUploads } from "./expire-uploads";
import { healStalledBackfills } from "./heal-backfills";
import { healUnprocessedEvents } from "./heal-events";
import { healStalledImports } from "./heal-imports";

type Report = Record<string, number | string>;

/**
 * The cron trigger (wrangler.toml): self-healing, so nothing stays stuck, retention, and
 * the scrub of erased people from the event archive. Each task is bounded
 * and independent; one failing doesn't stop the others.
 */
export async function runScheduled(env: Env): Promise<Report> {
  const deps = buildDeps(env);
  const tasks: Record<string, () => Promise<Report>> = {
    events: async () => {
      const { healed, deadLettered } = await healUnprocessedEvents(deps.routing);
      return { healedEvents: healed, deadLetteredEvents: deadLettered };
    },
    imports: async () => {
      const { requeued, failed } = await healStalledImports(deps.imports);
      return { requeuedImports: requeued, failedStalledImports: failed };
    },
    uploads: async () => ({ expiredUploads: await expireImportUploads(deps.imports) }),
    importFiles: async () => ({ deletedImportFiles: await deleteFinishedImportFiles(deps.imports) }),
    backfills: async () => {
      const { requeued, failed } = await healStalledBackfills(deps.backfills);
      return { requeuedBackfills: requeued, failedStalledBackfills: failed };
    },
    retention: async () => ({
      ...(await archiveOldEvents(deps.retention)),
      droppedEmailBodies: await dropOldEmailBodies(deps.retention),
    }),
    auditLog: async () => ({ ...(await archiveOldAuditEntries(deps.retention)) }),
    webhookDeliveries: async () => ({ prunedWebhookDeliveries: await pruneWebhookDeliveries(deps.retention.db) }),
    outboundWebhooks: async () => ({
      requeuedWebhooks: await sweepWebhookDeliveries(deps.webhooks),
      prunedWebhookMessages: await pruneSettledWebhookDeliveries(deps.db),
    }),
    // After retention: a pass that starts in this run sees everything this run archived.
    archiveScrub: async () => ({ ...(await scrubArchive(deps.retention)) }),
  };
  const report: Report = {};
  for (const [name, task] of Object.entries(tasks)) {
    try {
      Object.assign(report, await task());
    } catch (error) {
      report[`${name}Error`] = redactMessage(error instanceof Error ? error.message : String(error));
    }
  }
  log.info("scheduled", { scheduled: true, ...report });
  return report;
}
