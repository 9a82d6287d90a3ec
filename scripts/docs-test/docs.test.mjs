// `npm run test:docs`: every shell example of README.md and docs/*.md, run in document order
// against one fresh dev server, each answer compared with the JSON the doc shows under it
// (the rule: compare.mjs). How to mark an example that can't run here: examples.mjs.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT, startDevServer, WRANGLER_ENV } from "../../bench/lib/dev-server.mjs";
import { differences, parseJsonValues } from "./compare.mjs";
import { shellExamples } from "./examples.mjs";
import { startShell } from "./shell.mjs";

/** The order a reader meets them, each building on the state the ones before it left. */
const DOCUMENTS = [
  "README.md",
  "docs/ingest.md",
  "docs/posthog.md",
  "docs/contacts-import-export.md",
  "docs/cli.md",
  "docs/journeys-and-email.md",
  "docs/recovery.md",
  "docs/data-lifecycle.md",
  "docs/errors.md",
  "docs/identity.md",
  "docs/keys-and-audit.md",
  "docs/engagement-tracking.md",
  "docs/broadcasts.md",
  "docs/webhooks.md",
  "docs/design.md",
  "docs/console.md",
];
const DOCUMENTED_PORT = "localhost:3002";
const PORT = Number(process.env.DOCS_TEST_PORT ?? 3112);
/** An example that only reads (GET requests) is run again until its answer matches, as a reader polls. */
const POLL_MS = 20_000;

const counts = { run: 0, skipped: {} };
const started = Date.now();
const tmp = mkdtempSync(path.join(os.tmpdir(), "hogsend-docs-test-"));
let server;
let work; // one reader's directory for every document

/** The reader's directory: the repository (symlinked) with its own copy of docs/examples to write next to. */
function workDir() {
  const dir = path.join(tmp, "work");
  mkdirSync(path.join(dir, "docs"), { recursive: true });
  for (const entry of readdirSync(ROOT)) {
    if (entry.startsWith(".") || entry === "docs") continue;
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  for (const entry of readdirSync(path.join(ROOT, "docs"))) {
    if (entry === "examples")
      cpSync(path.join(ROOT, "docs", entry), path.join(dir, "docs", entry), { recursive: true });
    else symlinkSync(path.join(ROOT, "docs", entry), path.join(dir, "docs", entry));
  }
  return dir;
}

before(async () => {
  server = await startDevServer("docs", {
    tmpDir: tmp,
    port: PORT,
    envFile: path.join(ROOT, ".dev.vars.example"),
    testScheduled: true,
    rateLimits: true,
    // Links in emails (unsubscribe) point at this server, as they point at `npm run dev` in the docs.
    // Webhooks to the docs' loopback receiver, as `npm run dev` allows them.
    vars: { PUBLIC_BASE_URL: `http://127.0.0.1:${PORT}`, WEBHOOKS_ALLOW_LOCALHOST: "true" },
  });
});

after(async () => {
  await server?.stop();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const skipped = Object.entries(counts.skipped).map(([reason, n]) => `${n} ${reason}`);
  console.log(`docs examples: ${counts.run} run, ${skipped.join(", ") || "none"} skipped, in ${seconds} s`);
  if (process.exitCode === undefined || process.exitCode === 0) rmSync(tmp, { recursive: true, force: true });
  else console.log(`dev server log and work directory kept in ${tmp}`);
});

it("covers every document in docs/", () => {
  const docs = readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md") && f !== "README.md");
  for (const doc of docs) assert.ok(DOCUMENTS.includes(`docs/${doc}`), `docs/${doc} is in DOCUMENTS`);
});

const readOnly = (code) => /\bcurl\b/.test(code) && !/(\s-X\s|\s-d\s|--data|\s-o\s|\s-D\s|npx|>|\bfor\b)/.test(code);

async function runExample(shell, example) {
  // The reader's `npm run dev` is on 3002 with its state in .wrangler/; this server is elsewhere.
  const code = example.code
    .replaceAll(DOCUMENTED_PORT, `127.0.0.1:${PORT}`)
    .replace(/^(npx wrangler .*) --local\b/gm, `$1 --local --persist-to ${server.persistTo}`);
  const expected = example.expected?.lang === "json" ? parseJsonValues(example.expected.text) : null;
  const deadline = Date.now() + (readOnly(code) ? POLL_MS : 0);
  for (;;) {
    const result = await shell.run(code, { timeoutMs: 120_000 }); // generous: CI machines are shared
    if (process.env.DOCS_TEST_SHOW) console.log(`--- ${example.line}\n${result.stdout}\n${result.stderr.slice(-500)}`);
    let problems = [];
    if (result.status !== 0) problems = [`exit status ${result.status}`];
    else if (expected) problems = compareOutput(result.stdout, expected, example.expected);
    if (problems.length === 0) return;
    if (Date.now() >= deadline) {
      assert.fail(
        `${problems.join("\n")}\n--- stdout\n${result.stdout.slice(0, 3000)}\n--- stderr\n${result.stderr.slice(-2000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function compareOutput(stdout, expected, { numbersByType }) {
  let actual;
  try {
    actual = parseJsonValues(stdout);
  } catch (error) {
    return [`the answer is not JSON: ${error.message}`];
  }
  if (actual.length !== expected.length) return [`expected ${expected.length} JSON answers, got ${actual.length}`];
  return actual.flatMap((value, k) =>
    differences(value, expected[k], expected.length > 1 ? `$${k + 1}` : "$", { numbersByType }),
  );
}

// DOCS_TEST_UNTIL=docs/ingest.md runs the documents up to and including that one (while writing docs);
// DOCS_TEST_ONLY=docs/keys-and-audit.md runs that one alone (for a document that builds on no other).
const until = process.env.DOCS_TEST_UNTIL;
const only = process.env.DOCS_TEST_ONLY;
const selected = only ? [only] : until ? DOCUMENTS.slice(0, DOCUMENTS.indexOf(until) + 1) : DOCUMENTS;

for (const doc of selected) {
  const examples = shellExamples(readFileSync(path.join(ROOT, doc), "utf8"), doc);
  describe(doc, () => {
    let shell;
    before(() => {
      work ??= workDir();
      shell = startShell({ cwd: work, env: { ...WRANGLER_ENV, CI: "" } });
    });
    after(() => shell.close());
    for (const example of examples) {
      const name = `${doc}:${example.line} ${example.code.split("\n")[0].slice(0, 70)}`;
      if (example.skip) {
        counts.skipped[example.skip] = (counts.skipped[example.skip] ?? 0) + 1;
        it(name, { skip: example.skip }, () => {});
        continue;
      }
      it(name, async () => {
        counts.run++;
        await runExample(shell, example);
      });
    }
  });
}

// The cron's log line is shown in the docs but is no command's answer: compare it with the line
// the server logged while the examples ran /__scheduled.
const cronSkip = only ? "DOCS_TEST_ONLY: the documents that run the cron are not selected" : false;
it("shows the scheduled log line with the fields the server logs", { skip: cronSkip }, () => {
  const isScheduled = (line) => line.includes('"message":"scheduled"');
  const logged = readFileSync(server.logFile, "utf8")
    .split("\n")
    .map((line) => line.slice(line.indexOf("{")))
    .filter(isScheduled);
  assert.ok(logged.length > 0, "the examples ran the cron at least once");
  const real = JSON.parse(logged.at(-1));
  let shown = 0;
  for (const doc of selected) {
    const text = readFileSync(path.join(ROOT, doc), "utf8");
    for (const match of text.matchAll(/\{"level":"info","message":"scheduled"[^`\n]*\}/g)) {
      shown++;
      const problems = differences(real, JSON.parse(match[0]), "$", { numbersByType: true });
      assert.deepEqual(problems, [], `${doc}: ${match[0]}`);
    }
  }
  assert.ok(shown > 0);
});
