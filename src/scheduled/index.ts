import { routeDepsFromEnv } from "../pipeline/route";
import { importDeps } from "../queues/import-chunks";
import { healUnprocessedEvents } from "./heal-events";
import { healStalledImports } from "./heal-imports";

type Report = Record<string, number | string>;

/**
 * The cron trigger (wrangler.toml): self-healing, so nothing stays stuck. Each task is bounded
 * and independent; one failing doesn't stop the others.
 */
export async function runScheduled(env: Env): Promise<Report> {
  const routeDeps = routeDepsFromEnv(env);
  const tasks: Record<string, () => Promise<Report>> = {
    events: async () => ({ healedEvents: await healUnprocessedEvents(routeDeps) }),
    imports: async () => {
      const { requeued, failed } = await healStalledImports(importDeps(env));
      return { requeuedImports: requeued, failedStalledImports: failed };
    },
  };
  const report: Report = {};
  for (const [name, task] of Object.entries(tasks)) {
    try {
      Object.assign(report, await task());
    } catch (error) {
      report[`${name}Error`] = String(error);
    }
  }
  console.log(JSON.stringify({ level: "info", scheduled: true, ...report }));
  return report;
}
