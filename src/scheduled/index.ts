import { buildDeps } from "../composition";
import { log } from "../lib/log";
import { expireImportUploads } from "./expire-uploads";
import { healUnprocessedEvents } from "./heal-events";
import { healStalledImports } from "./heal-imports";

type Report = Record<string, number | string>;

/**
 * The cron trigger (wrangler.toml): self-healing, so nothing stays stuck. Each task is bounded
 * and independent; one failing doesn't stop the others.
 */
export async function runScheduled(env: Env): Promise<Report> {
  const deps = buildDeps(env);
  const tasks: Record<string, () => Promise<Report>> = {
    events: async () => ({ healedEvents: await healUnprocessedEvents(deps.routing) }),
    imports: async () => {
      const { requeued, failed } = await healStalledImports(deps.imports);
      return { requeuedImports: requeued, failedStalledImports: failed };
    },
    uploads: async () => ({ expiredUploads: await expireImportUploads(deps.imports) }),
  };
  const report: Report = {};
  for (const [name, task] of Object.entries(tasks)) {
    try {
      Object.assign(report, await task());
    } catch (error) {
      report[`${name}Error`] = String(error);
    }
  }
  log.info("scheduled", { scheduled: true, ...report });
  return report;
}
