// What `npm test` prints besides the results, decided here (the vitest main process), each rule
// for a known, harmless source. HOGSEND_TEST_LOGS=1 shows everything, for debugging a test.

const verbose = Boolean(process.env.HOGSEND_TEST_LOGS);

/**
 * The app's own structured log lines (`{"level":…}`): operators' output. Tests that provoke a
 * failure on purpose (malformed queue messages, injected D1 faults) make it log warnings and
 * errors; the tests assert what users see, so the lines say nothing a failure wouldn't.
 */
export const keepConsoleLog = (log: string) => verbose || !log.startsWith('{"level":');

/**
 * workerd's own reports that are the local emulator's doing, not the app's: the Workflows
 * emulator (miniflare's binding worker) reports as "uncaught" every rejection it hands back over
 * RPC, though the app's caller receives and handles it (instance.not_found on get, cannot_terminate
 * on a finished instance, invalid_id from createBatch, a step error or waitForEvent timeout the
 * engine records as the instance's outcome), and it aborts engines on terminate/delete the way
 * the plugin's own ignore list already covers for "Instance dispose". Any other rejection with the
 * app's stack is kept.
 */
const EMULATOR_NOISE = [
  /^uncaught exception; source = Uncaught \(in promise\); stack = [^\n]*\n(\s+at [^\n]*miniflare\/dist\/src\/workers\/workflows\/binding\.worker\.js[^\n]*\n?)+$/,
  /^uncaught exception; exception = [^\n]*broken\.outputGateBroken; jsg\.Error: Aborting engine: User called (terminate|delete)/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Engine was never started/,
  // A test file's isolate is disposed while a journey it started still runs (sleeping between
  // steps): the instance's pending step fails with the disposal, as the plugin's own list covers
  // for the engine's side ("broken.outputGateBroken; jsg.Error: Instance dispose").
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: (Instance dispose|The execution context which hosts this callback is no longer running\.)\n(\s+at [^\n]*src\/workflows\/journey-workflow\.ts[^\n]*\n?)+$/,
];

/**
 * Lines from tests that break things on purpose, each named by the test that does it:
 * test/import.test.ts cuts a body short ("a body shorter than its length…"), which workerd reports
 * as a lost connection; test/journeys.test.ts makes the email provider fail so the journey's
 * instance errors ("provider down"), which is what the test asserts.
 */
const PROVOKED = [
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.\n?$/,
  /^exception = kj\/async-io\.c\+\+:\d+: disconnected: (fixed-length pipe ended prematurely|read end of pipe was aborted)\nstack: [^\n]*\n?$/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: provider down\n/,
];

/**
 * Drops the writes (one structured log each) that match a rule above. workerd's logs reach
 * process.stdout or process.stderr by their level, one write per log.
 */
export function filterWorkerdNoise() {
  if (verbose) return;
  const rules = [...EMULATOR_NOISE, ...PROVOKED];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === "string" && rules.some((rule) => rule.test(chunk))) return true;
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
