// `npm run deploy` against a local fake of the Cloudflare API (loopback only): an empty account gets
// everything wrangler.toml names, migrations land before the code, and a second run creates nothing.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import {
  config,
  DEPLOY_TIMEOUT,
  envFile,
  inventory,
  isCreate,
  isD1Query,
  isUpload,
  migrationFiles,
  prodSettings,
  runDeploy,
  targets,
} from "./harness.mjs";

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
