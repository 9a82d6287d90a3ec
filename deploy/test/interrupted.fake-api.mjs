// `npm run deploy` against a local fake of the Cloudflare API (loopback only): a deploy interrupted
// with Ctrl-C (or killed) during the upload leaves no secret on disk.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import { DEPLOY_TIMEOUT, envFile, filesContaining, prodSettings, ROOT, startDeploy, tmp } from "./harness.mjs";

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
      assert.ok(!existsSync(path.join(ROOT, `.deploy.wrangler.${child.pid}.json`)), "the generated config is gone");
      assert.deepEqual(
        readdirSync(ownTmp).filter((f) => f.startsWith("hogsend-deploy-")),
        [],
        "no temporary deploy folder left behind",
      );
    });
  }
});
