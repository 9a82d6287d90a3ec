// `npm run deploy` against a local fake of the Cloudflare API (loopback only):
// deploy/prod.env.example, filled in, deploys as it is.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { readEnvFile, SETTING_DEFAULTS } from "../settings.mjs";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import { config, DEPLOY_TIMEOUT, ROOT, runDeploy, secret, targets, tmpFile } from "./harness.mjs";

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
    const file = tmpFile("example");
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
