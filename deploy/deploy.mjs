// `npm run deploy -- --env-file prod.env`: one idempotent deploy of the Worker and everything it
// binds, driven through wrangler's own commands (so it works with `wrangler login` or an API token).
//
// Order: refuse bad settings (before anything is touched) → queues wrangler does not provision →
// D1 database → KV namespaces → D1 migrations (before the new code serves) → upload with vars and
// secrets → health check. Every step checks before it creates, so a second run creates nothing.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { deployTargets, kvNamespaceTitle, readWranglerConfig } from "./config.mjs";
import { checkSettings, developmentValues, readEnvFile, splitSettings } from "./settings.mjs";

const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER_BIN = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const GENERATED_CONFIG = ".deploy.wrangler.json"; // gitignored; exists only during the upload

const USAGE = `Usage: npm run deploy -- --env-file FILE [--dry-run] [--allow-log-provider]
                                   [--skip-health-check] [--health-url URL]

  --env-file FILE         dotenv file with the production settings and secrets (see deploy/prod.env.example)
  --dry-run               check the settings and print the plan; create and change nothing (works offline)
  --allow-log-provider    deploy with EMAIL_PROVIDER=log (records emails, sends none)
  --skip-health-check     don't call GET /v1/health on the deployed Worker afterwards
  --health-url URL        base URL to health-check (default: the workers.dev URL wrangler reports)`;

class Refusal extends Error {}

function parseCli(argv) {
  const { values } = parseArgs({
    // The npm script ends node's own options with "--": Node 22 otherwise checks an `--env-file`
    // given to the script as if it were its own (resolved from the project root, not from INIT_CWD).
    args: argv[0] === "--" ? argv.slice(1) : argv,
    options: {
      "env-file": { type: "string" },
      "dry-run": { type: "boolean", default: false },
      "allow-log-provider": { type: "boolean", default: false },
      "skip-health-check": { type: "boolean", default: false },
      "health-url": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values["env-file"]) throw new Refusal(`--env-file is required\n\n${USAGE}`);
  return values;
}

/**
 * Runs wrangler with the project's Node, echoing its output, and resolves with that output.
 * CI=true: no prompts, and provisioned ids are not written back into wrangler.toml.
 */
function wrangler(args, { env, quiet = false, allowFailure = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let stdout = "";
    const collect = (stream, sink) =>
      stream.on("data", (chunk) => {
        output += chunk;
        if (stream === child.stdout) stdout += chunk;
        if (!quiet) sink.write(chunk);
      });
    collect(child.stdout, process.stdout);
    collect(child.stderr, process.stderr);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0 || allowFailure) resolve({ code, output, stdout });
      else
        reject(new Error(`wrangler ${args[0]} ${args[1] ?? ""} failed (exit ${code}):\n${quiet ? output : ""}`.trim()));
    });
  });
}

function step(text) {
  console.log(`\n▶ ${text}`);
}

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

async function ensureQueues(targets, env) {
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

async function ensureDatabases(targets, env) {
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
async function ensureKvNamespaces(targets, env) {
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

async function applyMigrations(targets, env) {
  for (const db of targets.d1Databases) {
    await wrangler(["d1", "migrations", "apply", db.binding, "--remote"], { env });
  }
}

/**
 * Secrets travel in a private temporary JSON file (JSON: no $VAR expansion), removed afterwards.
 * The config is wrangler.toml plus the KV ids found above, written next to it (its relative paths
 * stay right) and removed afterwards.
 */
async function upload(config, kvIds, vars, secrets, env) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hogsend-deploy-"));
  const secretsFile = path.join(dir, "secrets.json");
  const configFile = path.join(ROOT, GENERATED_CONFIG);
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
    rmSync(dir, { recursive: true, force: true });
    rmSync(configFile, { force: true });
  }
}

/** The deployed Worker answers, with its database reachable and every migration applied. */
async function checkHealth(baseUrl, adminKey, { attempts = 10, delayMs = 3000 } = {}) {
  const url = new URL("/v1/health", baseUrl);
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${adminKey}` } });
      const body = await res.text();
      if (res.status === 200) {
        console.log(`  ${url} → 200 ${body}`);
        return;
      }
      last = `${res.status} ${body}`;
    } catch (error) {
      last = error.message;
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, delayMs));
  }
  throw new Error(`health check failed: GET ${url} → ${last}`);
}

function printPlan(targets, vars, options) {
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

export async function main(argv) {
  const options = parseCli(argv);
  const config = readWranglerConfig(path.join(ROOT, "wrangler.toml"));
  const targets = deployTargets(config);
  // npm runs scripts from the project root; INIT_CWD is where the user typed the command.
  const envFile = path.resolve(process.env.INIT_CWD ?? process.cwd(), options["env-file"]);
  if (!existsSync(envFile)) throw new Refusal(`${envFile} does not exist (start from deploy/prod.env.example)`);
  const settings = readEnvFile(envFile);
  const devValues = developmentValues([path.join(ROOT, ".dev.vars.example"), path.join(ROOT, ".dev.vars")]);
  const problems = checkSettings(settings, { ...targets, devValues, allowLogProvider: options["allow-log-provider"] });
  if (problems.length > 0) {
    throw new Refusal(
      `Refusing to deploy; nothing was created or changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  const { vars, secrets, wranglerEnv } = splitSettings(settings, targets);

  printPlan(targets, vars, options);
  if (options["dry-run"]) {
    console.log("\nDry run: nothing was created or changed.");
    return;
  }

  step("Queues");
  await ensureQueues(targets, wranglerEnv);
  step("D1 databases");
  await ensureDatabases(targets, wranglerEnv);
  step("KV namespaces");
  const kvIds = await ensureKvNamespaces(targets, wranglerEnv);
  step("D1 migrations (remote, before the upload)");
  await applyMigrations(targets, wranglerEnv);
  step("Upload");
  const workersDevUrl = await upload(config, kvIds, vars, secrets, wranglerEnv);
  if (options["skip-health-check"]) {
    console.log("\nHealth check skipped (--skip-health-check).");
  } else {
    const baseUrl = options["health-url"] ?? workersDevUrl;
    if (!baseUrl)
      throw new Error(
        "deployed, but wrangler reported no workers.dev URL: pass --health-url URL or --skip-health-check",
      );
    step("Health check");
    await checkHealth(baseUrl, secrets.ADMIN_API_KEY);
  }
  console.log("\nDeployed.");
}

if (import.meta.main ?? process.argv[1] === import.meta.filename) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`\n${error instanceof Refusal ? "" : "Deploy failed: "}${error.message}`);
    process.exit(error instanceof Refusal ? 2 : 1);
  });
}
