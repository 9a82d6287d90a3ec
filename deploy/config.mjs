// What a deploy needs from wrangler.toml, read generically: another queue, bucket or secret added
// to the config is created, checked and uploaded without touching this code.
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";

/**
 * wrangler.toml as plain data; the deploy reads its tables generically.
 * @param {string} configPath @returns {Record<string, any>}
 */
export function readWranglerConfig(configPath) {
  return parse(readFileSync(configPath, "utf8"));
}

const unique = (values) => [...new Set(values.filter(Boolean))];

/** The resources, settings and secrets `npm run deploy` creates, migrates or uploads. */
export function deployTargets(config) {
  const producers = config.queues?.producers ?? [];
  const consumers = config.queues?.consumers ?? [];
  const producedNames = new Set(producers.map((p) => p.queue));
  const queues = unique([
    ...producers.map((p) => p.queue),
    ...consumers.map((c) => c.queue),
    ...consumers.map((c) => c.dead_letter_queue),
  ]);
  return {
    workerName: config.name,
    // Every queue the Worker names. Wrangler's provisioning creates producer queues only, so a
    // queue that is only consumed (a dead-letter queue) would stop the first deploy.
    queues: queues.map((name) => ({ name, provisionedByWrangler: producedNames.has(name) })),
    consumers: consumers.map((c) => ({ queue: c.queue, deadLetterQueue: c.dead_letter_queue ?? null })),
    d1Databases: (config.d1_databases ?? []).map((db) => ({
      binding: db.binding,
      name: db.database_name,
      jurisdiction: db.jurisdiction,
      migrationsDir: db.migrations_dir ?? "migrations",
    })),
    kvNamespaces: (config.kv_namespaces ?? []).map((kv) => ({ binding: kv.binding, id: kv.id ?? null })),
    r2Buckets: (config.r2_buckets ?? []).map((r2) => ({ binding: r2.binding, name: r2.bucket_name })),
    workflows: (config.workflows ?? []).map((wf) => ({ binding: wf.binding, name: wf.name, className: wf.class_name })),
    crons: config.triggers?.crons ?? [],
    requiredSecrets: config.secrets?.required ?? [],
    vars: Object.keys(config.vars ?? {}),
    placement: config.placement?.mode ?? null,
  };
}

/** The title wrangler gives a KV namespace it provisions for a binding (so either finds the other's). */
export function kvNamespaceTitle(workerName, binding) {
  return `${workerName}-${binding.toLowerCase().replaceAll("_", "-")}`;
}
