// `npm run deploy -- --env-file prod.env`: one idempotent deploy of the Worker and everything it
// binds, driven through wrangler's own commands (so it works with `wrangler login` or an API token).
//
// Order: refuse bad settings (before anything is touched) → queues wrangler does not provision →
// D1 database → KV namespaces → D1 migrations (before the new code serves) → upload with vars and
// secrets → health check. Every step checks before it creates, so a second run creates nothing.
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { exitCleanlyOnSignals } from "../bin/lib/cleanup.mjs";
import { deployTargets, readWranglerConfig } from "./config.mjs";
import { checkHealth } from "./health-check.mjs";
import { printPlan } from "./plan.mjs";
import { applyMigrations, ensureDatabases, ensureKvNamespaces, ensureQueues, upload } from "./resources.mjs";
import { checkSettings, developmentValues, readEnvFile, splitSettings } from "./settings.mjs";
import { ROOT } from "./wrangler.mjs";

const USAGE = `Usage: npm run deploy -- --env-file FILE [--dry-run] [--allow-log-provider]
                                   [--skip-health-check] [--health-url URL]

  --env-file FILE         dotenv file with the production settings and secrets (see deploy/prod.env.example)
  --dry-run               check the settings and print the plan; create and change nothing (works offline)
  --allow-log-provider    deploy with EMAIL_PROVIDER=log (records emails, sends none)
  --skip-health-check     don't call GET /v1/health on the deployed Worker afterwards
  --health-url URL        base URL to health-check (default: the workers.dev URL wrangler reports)

The health check uses ADMIN_API_KEY; with BOOTSTRAP_KEYS=off, a stored key with the read scope
in the HOGSEND_HEALTH_KEY environment variable.`;

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

function step(text) {
  console.log(`\n▶ ${text}`);
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
  // With the bootstrap keys off, the health check needs a stored key (read scope) from the environment.
  const healthKey = settings.BOOTSTRAP_KEYS === "off" ? process.env.HOGSEND_HEALTH_KEY : settings.ADMIN_API_KEY;
  const problems = checkSettings(settings, {
    ...targets,
    devValues,
    allowLogProvider: options["allow-log-provider"],
    skipHealthCheck: options["skip-health-check"],
    healthKey,
  });
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
    await checkHealth(baseUrl, healthKey);
  }
  console.log("\nDeployed.");
}

if (import.meta.main ?? process.argv[1] === import.meta.filename) {
  exitCleanlyOnSignals(
    (signal) => `\nDeploy interrupted (${signal}); cleaned up. Run it again: every step is idempotent.`,
  );
  main(process.argv.slice(2)).catch((error) => {
    console.error(`\n${error instanceof Refusal ? "" : "Deploy failed: "}${error.message}`);
    process.exit(error instanceof Refusal ? 2 : 1);
  });
}
