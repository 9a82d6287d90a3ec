// `npm run deploy` end to end against a local fake of the Cloudflare API (loopback only): an empty
// account gets everything wrangler.toml names, migrations land before the code, a second run
// creates nothing, and every refusal happens before a single API call.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deployTargets, readWranglerConfig } from "../config.mjs";
import { readEnvFile, SETTING_DEFAULTS, splitSettings } from "../settings.mjs";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const config = readWranglerConfig(path.join(ROOT, "wrangler.toml"));
const targets = deployTargets(config);
const migrationFiles = (dir) =>
  readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(".sql"))
    .sort();
const tmp = mkdtempSync(path.join(os.tmpdir(), "hogsend-deploy-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const secret = () => randomBytes(32).toString("base64url");

/** A valid production env file for whatever wrangler.toml declares, with `overrides` applied (undefined deletes). */
function prodSettings(overrides = {}) {
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
function envFile(settings) {
  const file = path.join(tmp, `prod-${++fileCount}.env`);
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
function startDeploy(fake, args, { env = {}, detached = false } = {}) {
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

const runDeploy = (fake, args) => startDeploy(fake, args).done;

/** Every file under `dir` whose content contains `needle`. */
function filesContaining(dir, needle) {
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

const isCreate = ({ method, path: p }) =>
  method === "POST" && /\/(queues|d1\/database|storage\/kv\/namespaces|r2\/buckets|queues\/[^/]+\/consumers)$/.test(p);
const isUpload = ({ method, path: p }) =>
  (method === "PUT" && /\/workers\/scripts\/[^/]+$/.test(p)) ||
  (method === "POST" && /\/workers\/scripts\/[^/]+\/versions$/.test(p));
const isD1Query = ({ path: p }) => /\/d1\/database\/[^/]+\/query$/.test(p);

function inventory(state) {
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

// Generous: a deploy is ~10 wrangler processes, and CI machines are shared. Normally ~10 s each.
const DEPLOY_TIMEOUT = { timeout: 300_000 };

describe("deploy against a fake Cloudflare API", DEPLOY_TIMEOUT, () => {
  let fake;
  before(async () => {
    fake = await startFakeCloudflare();
  });
  after(() => fake.close());

  const settings = prodSettings();
  let firstRun;

  it("prints the plan on --dry-run without a single API call", async () => {
    const { code, output } = await runDeploy(fake, ["--env-file", envFile(settings), "--dry-run"]);
    assert.equal(code, 0, output);
    assert.match(output, /Dry run: nothing was created or changed/);
    for (const { name } of targets.queues) assert.ok(output.includes(name), `plan names queue ${name}`);
    for (const db of targets.d1Databases) assert.ok(output.includes(db.name), `plan names D1 ${db.name}`);
    assert.equal(fake.requests.length, 0, JSON.stringify(fake.requests));
  });

  it("creates everything wrangler.toml names on an empty account, migrating before the upload", async () => {
    const { code, output } = await runDeploy(fake, [
      "--env-file",
      envFile(settings),
      "--health-url",
      new URL(fake.url).origin,
    ]);
    assert.equal(code, 0, output);
    firstRun = fake.requests.slice();
    const { state } = fake;

    // Every queue, consumed-only dead-letter queues included, and every consumer with its settings.
    assert.deepEqual([...state.queues.keys()].sort(), targets.queues.map((q) => q.name).sort());
    for (const consumer of config.queues.consumers) {
      const registered = state.queues.get(consumer.queue).consumers;
      assert.equal(registered.length, 1, `one consumer on ${consumer.queue}`);
      assert.equal(registered[0].script, config.name);
      assert.equal(registered[0].dead_letter_queue, consumer.dead_letter_queue);
      assert.equal(registered[0].settings.batch_size, consumer.max_batch_size);
      assert.equal(registered[0].settings.max_retries, consumer.max_retries);
    }

    // D1 exists and has every migration; KV and R2 were provisioned and are bound.
    const script = state.scripts.get(config.name);
    const binding = (name) => script.bindings.find((b) => b.name === name);
    for (const db of targets.d1Databases) {
      assert.ok(state.d1.has(db.name), `D1 ${db.name} created`);
      assert.equal(binding(db.binding).id, state.d1.get(db.name).uuid);
      const applied = state.d1
        .get(db.name)
        .sqlite.prepare("SELECT name FROM d1_migrations ORDER BY id")
        .all()
        .map((r) => r.name);
      assert.deepEqual(applied, migrationFiles(db.migrationsDir));
    }
    for (const kv of targets.kvNamespaces) {
      assert.equal(binding(kv.binding).type, "kv_namespace");
      assert.ok(state.kv.has(binding(kv.binding).namespace_id), `KV ${kv.binding} bound to a created namespace`);
    }
    for (const r2 of targets.r2Buckets) {
      assert.ok(state.r2.has(r2.name), `R2 ${r2.name} created`);
      assert.equal(binding(r2.binding).bucket_name, r2.name);
    }
    for (const producer of config.queues.producers) assert.equal(binding(producer.binding).queue_name, producer.queue);

    // The workflow, the cron, Smart Placement.
    for (const wf of targets.workflows) {
      assert.equal(state.workflows.get(wf.name)?.class_name, wf.className);
      assert.equal(state.workflows.get(wf.name)?.script_name, config.name);
    }
    assert.deepEqual(
      script.schedules.map((s) => s.cron),
      targets.crons,
    );
    assert.deepEqual(script.placement, { mode: config.placement.mode });

    // The static assets (public/: Scalar's bundle for /docs) went up with the version.
    assert.ok(script.versions[0].assets?.["/scalar/api-reference.js"], "Scalar's bundle uploaded as an asset");
    assert.ok(script.versions[0].assets?.["/scalar/init.js"]);

    // Production settings and secrets from the env file, never wrangler.toml's development values.
    for (const name of targets.vars)
      assert.deepEqual([binding(name).type, binding(name).text], ["plain_text", settings[name]]);
    for (const name of targets.requiredSecrets)
      assert.deepEqual([binding(name).type, binding(name).text], ["secret_text", settings[name]]);

    // Migrations before the new code: every D1 query precedes the upload, and the database had
    // every migration at the moment the version was uploaded.
    const firstUpload = firstRun.findIndex(isUpload);
    assert.ok(firstUpload > 0, "the Worker was uploaded");
    assert.ok(firstRun.findLastIndex(isD1Query) < firstUpload, "all D1 queries (migrations) precede the upload");
    for (const db of targets.d1Databases) {
      assert.deepEqual(script.versions[0].appliedMigrations[db.binding], migrationFiles(db.migrationsDir));
    }

    // The health check ran against the deployed Worker with the admin key.
    assert.equal(firstRun.at(-1).path, "/v1/health");
    assert.equal(firstRun.at(-1).status, 200);
    assert.match(output, /Deployed\.\s*$/);
  });

  it("creates nothing on a second run with nothing changed, and still deploys", async () => {
    const before = inventory(fake.state);
    const from = fake.requests.length;
    const { code, output } = await runDeploy(fake, ["--env-file", envFile(settings), "--skip-health-check"]);
    assert.equal(code, 0, output);
    const secondRun = fake.requests.slice(from);
    assert.deepEqual(secondRun.filter(isCreate), [], "no resource was created");
    assert.deepEqual(inventory(fake.state), before);
    assert.equal(secondRun.filter(isUpload).length, 1, "one new version uploaded");
    assert.equal(fake.state.scripts.get(config.name).versions.length, 2);
    assert.ok(!secondRun.some((r) => r.path === "/v1/health"), "--skip-health-check skips it");
    assert.match(output, /No migrations to apply/);
  });
});

describe("a first deploy that fails at the upload", DEPLOY_TIMEOUT, () => {
  let fake;
  before(async () => {
    fake = await startFakeCloudflare({ failUploads: 1 });
  });
  after(() => fake.close());

  it("can simply be run again: it finishes without creating anything twice", async () => {
    const file = envFile(prodSettings());
    const failed = await runDeploy(fake, ["--env-file", file, "--skip-health-check"]);
    assert.equal(failed.code, 1, failed.output);
    assert.match(failed.output, /fake startup failure/);
    assert.equal(fake.state.scripts.size, 0);
    const created = inventory(fake.state);

    const { code, output } = await runDeploy(fake, ["--env-file", file, "--skip-health-check"]);
    assert.equal(code, 0, output);
    const after = inventory(fake.state);
    for (const kind of ["d1", "kv", "r2", "queues"]) assert.deepEqual(after[kind], created[kind], kind);
    assert.equal(after.kv.length, targets.kvNamespaces.length, "one namespace per KV binding");
    assert.deepEqual(after.scripts, [config.name]);
  });
});

describe("refusals, before anything is created", () => {
  let fake;
  before(async () => {
    fake = await startFakeCloudflare();
  });
  after(() => fake.close());

  const [firstSecret] = targets.requiredSecrets;
  const cases = [
    ["a development secret", { ADMIN_API_KEY: "dev-admin-key" }, /ADMIN_API_KEY is a development value/],
    [
      "the development token secret",
      { TOKEN_SIGNING_SECRET: "dev-token-signing-secret-change-me" },
      /TOKEN_SIGNING_SECRET is a development value/,
    ],
    ["a missing secret", { [firstSecret]: undefined }, new RegExp(`${firstSecret} is missing`)],
    ["an empty secret", { [firstSecret]: "" }, new RegExp(`${firstSecret} is empty`)],
    ["a short secret", { [firstSecret]: "x".repeat(31) }, new RegExp(`${firstSecret} is shorter than 32`)],
    ["a localhost base URL", { PUBLIC_BASE_URL: "https://localhost:3002" }, /PUBLIC_BASE_URL points at this machine/],
    ["a loopback base URL", { PUBLIC_BASE_URL: "https://127.0.0.1" }, /PUBLIC_BASE_URL points at this machine/],
    ["an http base URL", { PUBLIC_BASE_URL: "http://hogsend.example.com" }, /PUBLIC_BASE_URL must be https/],
    ["the log provider without --allow-log-provider", { EMAIL_PROVIDER: "log" }, /EMAIL_PROVIDER=log/],
    ["a var left to wrangler.toml's development value", { EMAIL_FROM: undefined }, /EMAIL_FROM is missing/],
    ["an unknown key (a typo)", { ADMIN_API_KEYS: secret() }, /ADMIN_API_KEYS is neither/],
    ["a setting that was renamed", { POSTHOG_CAN_CHANGE_EMAIL: "true" }, /replaced by POSTHOG_EMAIL_POLICY/],
    ["BOOTSTRAP_KEYS neither on nor off", { BOOTSTRAP_KEYS: "no" }, /BOOTSTRAP_KEYS must be "on" or "off"/],
    ["BOOTSTRAP_KEYS=off with no key for the health check", { BOOTSTRAP_KEYS: "off" }, /HOGSEND_HEALTH_KEY/],
    [
      "the same value for two secrets",
      { INGEST_API_KEY: "s".repeat(40), ADMIN_API_KEY: "s".repeat(40) },
      /secrets ADMIN_API_KEY and INGEST_API_KEY have the same value/,
    ],
  ];
  for (const [what, overrides, reason] of /** @type {[string, Record<string, string | undefined>, RegExp][]} */ (
    cases
  )) {
    it(`refuses ${what}`, async () => {
      const { code, output } = await runDeploy(fake, ["--env-file", envFile(prodSettings(overrides))]);
      assert.equal(code, 2, output);
      assert.match(output, /Refusing to deploy; nothing was created or changed/);
      assert.match(output, reason);
      assert.equal(fake.requests.length, 0, "no API call at all");
    });
  }

  it("refuses without --env-file, or with one that does not exist", async () => {
    const missing = await runDeploy(fake, []);
    assert.equal(missing.code, 2, missing.output);
    assert.match(missing.output, /--env-file is required/);
    const absent = await runDeploy(fake, ["--env-file", path.join(tmp, "nope.env")]);
    assert.equal(absent.code, 2, absent.output);
    assert.match(absent.output, /nope\.env does not exist/);
    assert.equal(fake.requests.length, 0);
  });

  it("accepts an optional secret left out (deployed empty)", async () => {
    const file = envFile(prodSettings({ TOKEN_SIGNING_SECRET_PREVIOUS: undefined }));
    const { code, output } = await runDeploy(fake, ["--env-file", file, "--dry-run"]);
    assert.equal(code, 0, output);
    assert.equal(fake.requests.length, 0);
    const { secrets } = splitSettings(prodSettings({ TOKEN_SIGNING_SECRET_PREVIOUS: undefined }), targets);
    assert.equal(secrets.TOKEN_SIGNING_SECRET_PREVIOUS, "");
  });

  it("still refuses a short optional secret when one is given", async () => {
    const { code, output } = await runDeploy(fake, [
      "--env-file",
      envFile(prodSettings({ TOKEN_SIGNING_SECRET_PREVIOUS: "short" })),
    ]);
    assert.equal(code, 2, output);
    assert.match(output, /TOKEN_SIGNING_SECRET_PREVIOUS is shorter than 32/);
  });

  it("accepts the log provider when asked to", async () => {
    const file = envFile(prodSettings({ EMAIL_PROVIDER: "log" }));
    const { code, output } = await runDeploy(fake, ["--env-file", file, "--allow-log-provider", "--dry-run"]);
    assert.equal(code, 0, output);
    assert.equal(fake.requests.length, 0);
  });
});

describe("deploy/prod.env.example, filled in", DEPLOY_TIMEOUT, () => {
  let fake;
  before(async () => {
    fake = await startFakeCloudflare();
  });
  after(() => fake.close());

  // What the README tells a user to do: copy the example, fill in every empty secret.
  function filledExample(transform = (text) => text) {
    const text = readFileSync(path.join(ROOT, "deploy", "prod.env.example"), "utf8").replace(
      /^([A-Z0-9_]+)=(\s|$)/gm,
      (_, name, rest) => `${name}=${secret()}${rest}`,
    );
    const file = path.join(tmp, `example-${++fileCount}.env`);
    writeFileSync(file, transform(text));
    return file;
  }

  it("names every setting and secret wrangler.toml declares", () => {
    const settings = readEnvFile(filledExample());
    for (const name of [...targets.vars, ...targets.requiredSecrets]) assert.ok(name in settings, `${name} is in it`);
  });

  it("passes --dry-run and deploys to the fake API as it is", async () => {
    const file = filledExample();
    const dry = await runDeploy(fake, ["--env-file", file, "--dry-run"]);
    assert.equal(dry.code, 0, dry.output);
    assert.equal(fake.requests.length, 0);
    const { code, output } = await runDeploy(fake, ["--env-file", file, "--skip-health-check"]);
    assert.equal(code, 0, output);
    assert.match(output, /Deployed\.\s*$/);
  });

  it("deploys a setting with a production default as that default when the file leaves it out", async () => {
    const file = filledExample((text) => text.replace(/^POSTHOG_WEBHOOK_MODE=.*\n/m, ""));
    assert.equal(readEnvFile(file).POSTHOG_WEBHOOK_MODE, undefined);
    const dry = await runDeploy(fake, ["--env-file", file, "--dry-run"]);
    assert.equal(dry.code, 0, dry.output);
    assert.match(dry.output, /POSTHOG_WEBHOOK_MODE=buffered/);
    const { code, output } = await runDeploy(fake, ["--env-file", file, "--skip-health-check"]);
    assert.equal(code, 0, output);
    const script = fake.state.scripts.get(config.name);
    const binding = script.bindings.find((b) => b.name === "POSTHOG_WEBHOOK_MODE");
    // Passed explicitly, never left to wrangler.toml's development value.
    assert.deepEqual([binding?.type, binding?.text], ["plain_text", SETTING_DEFAULTS.POSTHOG_WEBHOOK_MODE]);
  });
});

describe("a deploy interrupted with Ctrl-C during the upload", DEPLOY_TIMEOUT, () => {
  let fake;
  before(async () => {
    fake = await startFakeCloudflare({ holdUploads: true });
  });
  after(() => fake.close());

  for (const signal of ["SIGINT", "SIGTERM"]) {
    it(`leaves no secret on disk (${signal})`, async () => {
      const settings = prodSettings();
      const adminKey = settings.ADMIN_API_KEY;
      const ownTmp = mkdtempSync(path.join(tmp, "tmpdir-"));
      const uploadArrived = fake.nextUpload();
      const { child, done } = startDeploy(fake, ["--env-file", envFile(settings), "--skip-health-check"], {
        env: { TMPDIR: ownTmp },
        detached: true,
      });
      const arrived = await Promise.race([uploadArrived.then(() => true), done.then(() => false)]);
      assert.ok(arrived, `the upload started: ${arrived || (await done).output}`);
      // Ctrl-C signals the terminal's whole process group: the deploy and its wrangler.
      process.kill(-child.pid, signal);
      const { code, output } = await done;
      assert.notEqual(code, 0, output);
      const envFiles = new Set(readdirSync(tmp).map((f) => path.join(tmp, f)));
      const leaks = [...filesContaining(ownTmp, adminKey), ...filesContaining(path.join(ROOT, ".wrangler"), adminKey)];
      assert.deepEqual(
        leaks.filter((f) => !envFiles.has(f)),
        [],
        "no file outside the env file holds a secret",
      );
      assert.ok(!existsSync(path.join(ROOT, ".deploy.wrangler.json")), "the generated config is gone");
      assert.deepEqual(
        readdirSync(ownTmp).filter((f) => f.startsWith("hogsend-deploy-")),
        [],
        "no temporary deploy folder left behind",
      );
    });
  }
});

describe("reading the env file", () => {
  const read = (text) => {
    const file = path.join(tmp, `parse-${++fileCount}.env`);
    writeFileSync(file, text);
    return readEnvFile(file);
  };

  it("keeps a # inside an unquoted value; a comment starts at line start or after whitespace", () => {
    assert.deepEqual(
      read(
        [
          "# a comment line",
          "A=abc#def",
          "B=abc #a comment",
          "C=abc\t# also a comment",
          'D="quoted # kept" # comment',
          "E='single #kept'",
          "export F=  spaced value  ",
          "G=",
          "H=#not-a-comment-without-space",
          'I="line\\nbreak"',
          "J=a=b=c",
          "",
        ].join("\n"),
      ),
      {
        A: "abc#def",
        B: "abc",
        C: "abc",
        D: "quoted # kept",
        E: "single #kept",
        F: "spaced value",
        G: "",
        H: "#not-a-comment-without-space",
        I: "line\nbreak",
        J: "a=b=c",
      },
    );
  });

  it("reads multi-line quoted values and CRLF files", () => {
    assert.deepEqual(read('KEY="-----BEGIN-----\nabc\n-----END-----"\r\nOTHER=x#y\r\n'), {
      KEY: "-----BEGIN-----\nabc\n-----END-----",
      OTHER: "x#y",
    });
  });
});

describe("reading wrangler.toml generically", () => {
  it("picks up queues, dead-letter queues and bindings another engineer adds", () => {
    const extended = structuredClone(config);
    extended.queues.producers.push({ binding: "INGEST_QUEUE", queue: "hogsend-ingest" });
    extended.queues.consumers.push({ queue: "hogsend-ingest", dead_letter_queue: "hogsend-ingest-dlq" });
    extended.queues.consumers.push({ queue: "hogsend-backfill" });
    extended.secrets.required.push("NEW_SECRET");
    const t = deployTargets(extended);
    const names = t.queues.map((q) => q.name);
    for (const name of ["hogsend-ingest", "hogsend-ingest-dlq", "hogsend-backfill"])
      assert.ok(names.includes(name), name);
    assert.equal(t.queues.find((q) => q.name === "hogsend-backfill").provisionedByWrangler, false);
    assert.equal(t.queues.find((q) => q.name === "hogsend-ingest").provisionedByWrangler, true);
    assert.ok(t.requiredSecrets.includes("NEW_SECRET"));
  });
});
