import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { copyScalarBundle } from "./scripts/scalar-assets.mjs";
import { filterWorkerdNoise, keepConsoleLog } from "./vitest.output.ts";

/** Secrets the tests run with; the real ones live in .dev.vars / `wrangler secret`. */
export const TEST_SECRETS = {
  ADMIN_API_KEY: "test-admin-key",
  INGEST_API_KEY: "test-ingest-key",
  TOKEN_SIGNING_SECRET: "test-token-signing-secret",
  TOKEN_SIGNING_SECRET_PREVIOUS: "test-token-signing-secret-before-rotation",
  ERASURE_HASH_SECRET: "test-erasure-hash-secret",
  POSTHOG_WEBHOOK_SECRET: "test-posthog-secret",
  RESEND_WEBHOOK_SECRET: "whsec_dGVzdC1yZXNlbmQtd2ViaG9vay1zZWNyZXQ=",
  RESEND_API_KEY: "",
};

// wrangler reads wrangler.toml's required secrets from the environment when it builds the test
// Worker: with them there it doesn't warn, once per test file, that they are missing (the Worker
// gets the same values as bindings below). Its informational lines are not test output.
for (const [name, value] of Object.entries(TEST_SECRETS)) process.env[name] ??= value;
process.env.WRANGLER_LOG ??= "warn";
filterWorkerdNoise();

// public/ (static assets) holds Scalar's bundle only once this copies it there; wrangler does it for dev and deploy.
copyScalarBundle();

export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        compatibilityFlags: ["nodejs_compat", "service_binding_extra_handlers"],
        // A real queue nobody consumes: tests that drive import chunks themselves send follow-ups here.
        // Webhook deliveries too: test/webhooks.test.ts drives their consumer with a fake fetch, so
        // nothing is sent for real (and no auto-consumer races it).
        queueProducers: {
          TEST_IDLE_QUEUE: { queueName: "hogsend-test-idle" },
          WEBHOOK_DELIVERIES_QUEUE: { queueName: "hogsend-test-idle" },
        },
        // The 10-second limiters at wrangler.toml's 1000 would make test/rate-limits.test.ts race
        // the clock on a busy machine; same bindings, smaller limits (the 60 s public one is as configured).
        ratelimits: {
          RATE_LIMIT_WEBHOOKS: { namespace_id: "1002", simple: { limit: 50, period: 10 } },
          RATE_LIMIT_INGEST: { namespace_id: "1003", simple: { limit: 50, period: 10 } },
        },
        bindings: {
          ...TEST_SECRETS,
          TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")),
        },
      },
    })),
  ],
  test: {
    // test-cli/ is the CLI's node:test suite (npm run test:cli), not Workers tests.
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    testTimeout: 30_000,
    // The app's log lines are for operators; test output is results (HOGSEND_TEST_LOGS=1 shows them).
    onConsoleLog: keepConsoleLog,
  },
});
