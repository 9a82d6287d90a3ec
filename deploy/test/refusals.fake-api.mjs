// `npm run deploy` against a local fake of the Cloudflare API (loopback only): every refusal happens
// before a single API call; the env file and wrangler.toml are read as documented.
// Run with `npm run test:deploy` (node's test runner; not the Workers pool).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deployTargets } from "../config.mjs";
import { readEnvFile, splitSettings } from "../settings.mjs";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import { config, envFile, prodSettings, runDeploy, secret, targets, tmp, tmpFile } from "./harness.mjs";

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

describe("reading the env file", () => {
  const read = (text) => {
    const file = tmpFile("parse");
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
