// The deploy's steps against the account: each looks before it creates, so running it again
// creates nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { onExit } from "../bin/lib/cleanup.mjs";
import { kvNamespaceTitle } from "./config.mjs";
import { ROOT, wrangler } from "./wrangler.mjs";

// gitignored; exists only during the upload; per process, so two deploys (the tests run several) never share it
const GENERATED_CONFIG = `.deploy.wrangler.${process.pid}.json`;

async function queueExists(name, env) {
  const { code, output } = await wrangler(["queues", "info", name], { env, quiet: true, allowFailure: true });
  if (code === 0) return true;
  if (output.includes(`Queue "${name}" does not exist`)) return false;
  throw new Error(`could not look up queue ${name}:\n${output}`);
}

/** Runs `task` over `items`, a few at a time (each is a wrangler process). */
async function eachLimited(items, limit, task) {
  const queue = [...items];
  const worker = async () => {
    while (queue.length > 0) await task(queue.shift());
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Names on the first page of `wrangler queues list` (a table; the name is its second column). */
async function listedQueueNames(env) {
  const { stdout } = await wrangler(["queues", "list"], { env, quiet: true });
  const names = stdout
    .split("\n")
    .filter((line) => line.startsWith("│"))
    .map((line) => line.split("│")[2]?.trim());
  return new Set(names.filter((name) => name && name !== "name"));
}

export async function ensureQueues(targets, env) {
  // One list call answers the usual case; a queue not on it may be on a later page, so it is
  // looked up by name before being created.
  const listed = await listedQueueNames(env);
  await eachLimited(targets.queues, 3, async ({ name }) => {
    if (listed.has(name) || (await queueExists(name, env))) {
      console.log(`  queue ${name}: exists`);
    } else {
      await wrangler(["queues", "create", name], { env, quiet: true });
      console.log(`  queue ${name}: created`);
    }
  });
}

export async function ensureDatabases(targets, env) {
  const { stdout } = await wrangler(["d1", "list", "--json"], { env, quiet: true });
  const existing = new Set(JSON.parse(stdout).map((db) => db.name));
  for (const db of targets.d1Databases) {
    if (existing.has(db.name)) {
      console.log(`  D1 ${db.name}: exists`);
    } else {
      const jurisdiction = db.jurisdiction ? ["--jurisdiction", db.jurisdiction] : [];
      await wrangler(["d1", "create", db.name, ...jurisdiction], { env, quiet: true });
      console.log(`  D1 ${db.name}: created`);
    }
  }
}

/**
 * KV bindings carry no name in wrangler.toml, so wrangler's own provisioning finds a namespace only
 * through the deployed Worker: a first deploy that created the namespace and then failed would
 * create it again next time (and fail, the title being taken). So the namespace is found or
 * created here, by the title wrangler itself would give it, and its id goes to the upload.
 */
export async function ensureKvNamespaces(targets, env) {
  const unbound = targets.kvNamespaces.filter((kv) => !kv.id);
  if (unbound.length === 0) return {};
  const list = async () => JSON.parse((await wrangler(["kv", "namespace", "list"], { env, quiet: true })).stdout);
  let namespaces = await list();
  const ids = {};
  for (const { binding } of unbound) {
    const title = kvNamespaceTitle(targets.workerName, binding);
    if (!namespaces.some((ns) => ns.title === title)) {
      await wrangler(["kv", "namespace", "create", title], { env, quiet: true });
      namespaces = await list();
      console.log(`  KV ${title}: created`);
    } else {
      console.log(`  KV ${title}: exists`);
    }
    ids[binding] = namespaces.find((ns) => ns.title === title).id;
  }
  return ids;
}

export async function applyMigrations(targets, env) {
  for (const db of targets.d1Databases) {
    await wrangler(["d1", "migrations", "apply", db.binding, "--remote"], { env });
  }
}

/**
 * Secrets travel in a private temporary JSON file (JSON: no $VAR expansion). The config is
 * wrangler.toml plus the KV ids found above, written next to it (its relative paths stay right).
 * Both are removed afterwards, and on Ctrl-C or a kill too (only SIGKILL can skip that).
 * (Not stdin: wrangler opens `/dev/stdin`, which fails with ENXIO on the socket Node gives a child.)
 */
export async function upload(config, kvIds, vars, secrets, env) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hogsend-deploy-"));
  const secretsFile = path.join(dir, "secrets.json");
  const configFile = path.join(ROOT, GENERATED_CONFIG);
  const removeFiles = () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(configFile, { force: true });
  };
  const forget = onExit(removeFiles);
  try {
    writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    const withIds = {
      ...config,
      kv_namespaces: (config.kv_namespaces ?? []).map((kv) =>
        kvIds[kv.binding] ? { ...kv, id: kvIds[kv.binding] } : kv,
      ),
    };
    writeFileSync(configFile, JSON.stringify(withIds, null, 2));
    const varArgs = Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
    const { output } = await wrangler(["deploy", "--config", configFile, "--secrets-file", secretsFile, ...varArgs], {
      env,
    });
    return output.match(/https:\/\/\S+\.workers\.dev\b/)?.[0] ?? null;
  } finally {
    removeFiles();
    forget();
  }
}
