// `npm run deploy` against a local fake of the Cloudflare API (loopback only): a first deploy that
// fails at the upload can simply be run again.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import { config, DEPLOY_TIMEOUT, envFile, inventory, prodSettings, runDeploy, targets } from "./harness.mjs";

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
