// Shared by deploy/test/*.fake-api.mjs: `npm run deploy` run as a user would, against a local fake
// of the Cloudflare API (loopback only). Each test file is its own process with its own fake account,
// so `npm run test:deploy` runs the files side by side.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { deployTargets, readWranglerConfig } from "../config.mjs";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const config = readWranglerConfig(path.join(ROOT, "wrangler.toml"));
export const targets = deployTargets(config);
export const migrationFiles = (dir) =>
  readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(".sql"))
    .sort();
export const tmp = mkdtempSync(path.join(os.tmpdir(), "hogsend-deploy-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

export const secret = () => randomBytes(32).toString("base64url");

/** A valid production env file for whatever wrangler.toml declares, with `overrides` applied (undefined deletes). */
export function prodSettings(overrides = {}) {
  const settings = {
    PUBLIC_BASE_URL: "https://hogsend.example.com",
    EMAIL_FROM: "Hogsend <hello@example.com>",
    EMAIL_PROVIDER: "resend",
    IDEMPOTENCY_TTL_SECONDS: "604800",
    EMAIL_MAX_PER_ADDRESS_PER_DAY: "10",
    EVENT_RETENTION_DAYS: "400",
    EMAIL_BODY_RETENTION_DAYS: "30",
    RATE_LIMITS: "on",
    BOOTSTRAP_KEYS: "on",
    AUDIT_RETENTION_DAYS: "400",
  };
  for (const name of targets.vars) settings[name] ??= `prod-${name.toLowerCase()}`;
  for (const name of targets.requiredSecrets) settings[name] = secret();
  Object.assign(settings, overrides);
  for (const [key, value] of Object.entries(settings)) if (value === undefined) delete settings[key];
  return settings;
}

let fileCount = 0;
/** A fresh path in this run's temporary folder. */
export const tmpFile = (prefix) => path.join(tmp, `${prefix}-${++fileCount}.env`);

export function envFile(settings) {
  const file = tmpFile("prod");
  writeFileSync(
    file,
    Object.entries(settings)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n"),
  );
  return file;
}

/**
 * Starts `npm run deploy`'s script as a user would, pointed at the fake, never past loopback.
 * `detached`: in a process group of its own, so a test can Ctrl-C it (signal the whole group).
 */
export function startDeploy(fake, args, { env = {}, detached = false } = {}) {
  /** @type {import("node:child_process").ChildProcess} */
  let child;
  const done = new Promise((resolve, reject) => {
    // As `npm run deploy -- …` runs it (see package.json).
    child = spawn(process.execPath, [path.join(ROOT, "deploy", "deploy.mjs"), "--", ...args], {
      cwd: ROOT,
      detached,
      env: {
        ...process.env,
        CLOUDFLARE_API_BASE_URL: fake.url,
        CLOUDFLARE_API_TOKEN: "fake-token",
        CLOUDFLARE_ACCOUNT_ID: fake.accountId,
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_LOG_PATH: path.join(tmp, "wrangler-logs"),
        // Anything that is not the fake goes to a closed loopback port instead of the internet.
        HTTPS_PROXY: "http://127.0.0.1:9",
        HTTP_PROXY: "http://127.0.0.1:9",
        NO_PROXY: "127.0.0.1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, output }));
  });
  return { child, done };
}

export const runDeploy = (fake, args) => startDeploy(fake, args).done;

/** Every file under `dir` whose content contains `needle`. */
export function filesContaining(dir, needle) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => {
      try {
        return readFileSync(file, "utf8").includes(needle);
      } catch {
        return false;
      }
    });
}

export const isCreate = ({ method, path: p }) =>
  method === "POST" && /\/(queues|d1\/database|storage\/kv\/namespaces|r2\/buckets|queues\/[^/]+\/consumers)$/.test(p);
export const isUpload = ({ method, path: p }) =>
  (method === "PUT" && /\/workers\/scripts\/[^/]+$/.test(p)) ||
  (method === "POST" && /\/workers\/scripts\/[^/]+\/versions$/.test(p));
export const isD1Query = ({ path: p }) => /\/d1\/database\/[^/]+\/query$/.test(p);

export function inventory(state) {
  return {
    d1: [...state.d1.keys()].sort(),
    kv: [...state.kv.values()].map((ns) => ns.title).sort(),
    r2: [...state.r2.keys()].sort(),
    queues: [...state.queues.keys()].sort(),
    consumers: [...state.queues.values()].flatMap((q) => q.consumers.map((c) => `${q.queue_name}←${c.script}`)).sort(),
    workflows: [...state.workflows.keys()].sort(),
    scripts: [...state.scripts.keys()].sort(),
  };
}

// Generous: a deploy is ~10 wrangler processes, the files run side by side, and CI machines are shared.
export const DEPLOY_TIMEOUT = { timeout: 450_000 };
