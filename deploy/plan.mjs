// What a deploy will do, printed before it starts (and alone on --dry-run).
import { kvNamespaceTitle } from "./config.mjs";

export function printPlan(targets, vars, options) {
  const lines = [
    `Plan for Worker "${targets.workerName}" (each step checks first; nothing that exists is created again):`,
    `  1. queues — create any that are missing (dead-letter and consume-only queues are never provisioned by wrangler):`,
    ...targets.queues.map((q) => `       ${q.name}${q.provisionedByWrangler ? "" : "  (consumed only)"}`),
    `  2. D1 — create if missing: ${targets.d1Databases.map((db) => `${db.name} (${db.binding})`).join(", ")}`,
    `  3. KV — create if missing: ${targets.kvNamespaces.map((kv) => (kv.id ? `${kv.binding} (id ${kv.id} from wrangler.toml)` : `${kvNamespaceTitle(targets.workerName, kv.binding)} (${kv.binding})`)).join(", ")}`,
    `  4. D1 migrations — apply remotely, before the new code goes live: ${targets.d1Databases.map((db) => `${db.binding} ← ${db.migrationsDir}/`).join(", ")}`,
    `  5. wrangler deploy — uploads the Worker${targets.placement ? ` (placement: ${targets.placement})` : ""}; wrangler creates the R2 bucket if missing and registers the rest:`,
    ...targets.r2Buckets.map((r2) => `       R2 ${r2.name} (${r2.binding})`),
    ...targets.workflows.map((wf) => `       workflow ${wf.name} (${wf.className})`),
    ...targets.consumers.map(
      (c) => `       consumer of ${c.queue}${c.deadLetterQueue ? ` → dead letters to ${c.deadLetterQueue}` : ""}`,
    ),
    ...targets.crons.map((cron) => `       cron "${cron}"`),
    `       vars: ${Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
    `       secrets: ${targets.requiredSecrets.join(", ")}`,
    options["skip-health-check"]
      ? `  6. health check — skipped`
      : `  6. health check — GET ${options["health-url"] ?? "<workers.dev URL>"}/v1/health with the admin key`,
  ];
  console.log(lines.join("\n"));
}
