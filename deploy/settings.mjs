// The production settings file: read it, and refuse it before anything is created or changed.
import { existsSync, readFileSync } from "node:fs";
import { parseEnvFile } from "./env-file.mjs";

export const MIN_SECRET_LENGTH = 32;

// Secrets the Worker uses only when set (wrangler.toml still lists them, so local dev passes them
// on). Left out or empty in the env file, they are deployed empty: that also clears the value of
// an earlier deploy, e.g. the previous signing secret once a rotation is over.
export const OPTIONAL_SECRETS = new Set(["TOKEN_SIGNING_SECRET_PREVIOUS"]);

// Settings with a safe production default: they may be left out of the env file. The deploy then
// passes the default itself (`--var`), so production never runs on wrangler.toml's development
// value of the same setting, and the plan prints what was chosen.
export const SETTING_DEFAULTS = Object.freeze({
  // PostHog only needs a 2xx: the buffered path answers after one queue send (docs/ingest.md).
  POSTHOG_WEBHOOK_MODE: "buffered",
  // PostHog events are captured with a public key: they never set an address (docs/posthog.md#addresses).
  POSTHOG_EMAIL_POLICY: "none",
  // Unidentified visitors' events are stored, but make no contact and enter no journey.
  POSTHOG_ANONYMOUS_EVENTS: "store",
  // No PostHog-internal "$…" key lands on a contact unless listed.
  POSTHOG_CONTACT_PROPERTIES: "",
  // A fresh deploy must be usable: ADMIN_API_KEY and INGEST_API_KEY work until stored keys replace them.
  BOOTSTRAP_KEYS: "on",
  AUDIT_RETENTION_DAYS: "400",
  // Outbound webhooks go to public https hosts only; "true" is for `npm run dev` and is refused here.
  WEBHOOKS_ALLOW_LOCALHOST: "false",
  // Empty: the default retry schedule (about 27 h, docs/webhooks.md).
  WEBHOOK_RETRY_SCHEDULE: "",
  // No scanner ranges beyond the built-in rules (docs/engagement-tracking.md).
  TRACKING_SCANNER_RANGES: "",
  // Twenty 10,000-row chunks per import queue invocation (src/services/imports/chunk.ts).
  IMPORT_CHUNKS_PER_INVOCATION: "20",
});

// Settings that no longer exist, and what replaced them.
const RENAMED_SETTINGS = {
  POSTHOG_CAN_CHANGE_EMAIL:
    'POSTHOG_CAN_CHANGE_EMAIL was replaced by POSTHOG_EMAIL_POLICY ("none" by default; "fill" was the old "false", "replace" the old "true", now never over an address from the ingest API or an import): see docs/posthog.md',
};

export function readEnvFile(file) {
  return parseEnvFile(readFileSync(file, "utf8"));
}

/** Every value in the development secrets files: none of them may reach production. */
export function developmentValues(files) {
  const values = new Set();
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const value of Object.values(readEnvFile(file))) if (value) values.add(value);
  }
  return values;
}

const LOCAL_HOSTS = /^(localhost|.*\.localhost|127(\.\d+){3}|0\.0\.0\.0|\[::1?\]|\[::ffff:127(\.\d+){3}\])$/i;

function publicBaseUrlProblem(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return `PUBLIC_BASE_URL is not a URL: "${value}"`;
  }
  if (url.protocol !== "https:")
    return `PUBLIC_BASE_URL must be https (unsubscribe links go out in every email): "${value}"`;
  if (LOCAL_HOSTS.test(url.hostname)) return `PUBLIC_BASE_URL points at this machine: "${value}"`;
  return null;
}

// Lets wrangler pick up the account and token from the same file; never uploaded to the Worker.
const WRANGLER_KEYS = /^CLOUDFLARE_/;

/**
 * Why these settings must not be deployed; empty when they may.
 * `vars` and `requiredSecrets` come from wrangler.toml: every var must be set here, so production
 * never runs on the file's development values.
 */
export function checkSettings(
  settings,
  { vars, requiredSecrets, devValues, allowLogProvider = false, skipHealthCheck = false, healthKey },
) {
  const problems = [];
  if (settings.BOOTSTRAP_KEYS !== undefined && !["on", "off"].includes(settings.BOOTSTRAP_KEYS)) {
    problems.push(`BOOTSTRAP_KEYS must be "on" or "off": "${settings.BOOTSTRAP_KEYS}"`);
  }
  if (settings.BOOTSTRAP_KEYS === "off" && !skipHealthCheck && !healthKey) {
    problems.push(
      "BOOTSTRAP_KEYS=off: ADMIN_API_KEY can't answer the health check; set HOGSEND_HEALTH_KEY to a stored hsk_ key with the read scope, or pass --skip-health-check",
    );
  }
  for (const name of requiredSecrets) {
    const value = settings[name];
    if (OPTIONAL_SECRETS.has(name) && !value) continue;
    if (value === undefined) problems.push(`secret ${name} is missing`);
    else if (value === "") problems.push(`secret ${name} is empty`);
    else if (devValues.has(value))
      problems.push(`secret ${name} is a development value (from .dev.vars.example or .dev.vars)`);
    else if (value.length < MIN_SECRET_LENGTH)
      problems.push(`secret ${name} is shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  // One value serving two roles would, say, make the ingest key an admin key.
  const seen = new Map();
  for (const name of requiredSecrets) {
    const value = settings[name];
    if (!value) continue;
    if (seen.has(value)) problems.push(`secrets ${seen.get(value)} and ${name} have the same value`);
    else seen.set(value, name);
  }
  for (const name of vars) {
    if (settings[name] === undefined && !(name in SETTING_DEFAULTS))
      problems.push(`setting ${name} is missing (wrangler.toml only has its development value)`);
  }
  if (settings.WEBHOOKS_ALLOW_LOCALHOST === "true") {
    problems.push("WEBHOOKS_ALLOW_LOCALHOST=true lets webhooks reach http:// and loopback targets: development only");
  }
  if (settings.PUBLIC_BASE_URL !== undefined) {
    const problem = publicBaseUrlProblem(settings.PUBLIC_BASE_URL);
    if (problem) problems.push(problem);
  }
  if (settings.EMAIL_PROVIDER === "log" && !allowLogProvider) {
    problems.push(
      "EMAIL_PROVIDER=log records emails and sends none: pass --allow-log-provider if that is what you want",
    );
  }
  const known = new Set([...vars, ...requiredSecrets]);
  for (const name of Object.keys(settings)) {
    if (name in RENAMED_SETTINGS && !known.has(name)) problems.push(RENAMED_SETTINGS[name]);
    else if (!known.has(name) && !WRANGLER_KEYS.test(name)) {
      problems.push(`${name} is neither a [vars] setting nor a required secret in wrangler.toml (a typo?)`);
    }
  }
  return problems;
}

/** The env file split into what goes where. */
export function splitSettings(settings, { vars, requiredSecrets }) {
  const pick = (names) =>
    Object.fromEntries(names.filter((n) => settings[n] !== undefined).map((n) => [n, settings[n]]));
  const wranglerEnv = Object.fromEntries(Object.entries(settings).filter(([name]) => WRANGLER_KEYS.test(name)));
  const chosen = pick(vars);
  for (const name of vars) if (name in SETTING_DEFAULTS) chosen[name] ??= SETTING_DEFAULTS[name];
  const secrets = pick(requiredSecrets);
  for (const name of requiredSecrets) if (OPTIONAL_SECRETS.has(name)) secrets[name] ??= "";
  return { vars: chosen, secrets, wranglerEnv };
}
