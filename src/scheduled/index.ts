import { createDb } from "../db/client";
import { healUnprocessedEvents } from "./heal-events";

/**
 * The cron trigger (wrangler.toml): self-healing, so nothing stays stuck. Each task is bounded
 * and independent; one failing doesn't stop the others.
 */
export async function runScheduled(env: Env): Promise<Record<string, number | string>> {
  const db = createDb(env.DB);
  const deps = { db, workflow: env.JOURNEY_WORKFLOW, journeyStarts: env.JOURNEY_STARTS_QUEUE };
  const tasks: Record<string, () => Promise<number>> = {
    healedEvents: () => healUnprocessedEvents(deps),
  };
  const report: Record<string, number | string> = {};
  for (const [name, task] of Object.entries(tasks)) {
    try {
      report[name] = await task();
    } catch (error) {
      report[name] = `error: ${String(error)}`;
    }
  }
  console.log(JSON.stringify({ level: "info", scheduled: true, ...report }));
  return report;
}
