// What must not outlive the deploy (the generated config, running wrangler processes) is undone
// on every way out: a normal end, an error, and Ctrl-C or a kill (SIGINT/SIGTERM/SIGHUP), which
// would otherwise end Node before any `finally` runs.
const cleanups = new Set();

/** Registers `undo` to run once when the process ends; returns a function that unregisters it. */
export function onExit(undo) {
  cleanups.add(undo);
  return () => cleanups.delete(undo);
}

function runCleanups() {
  for (const undo of cleanups) undo();
  cleanups.clear();
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export function cleanUpOnExit() {
  process.on("exit", runCleanups);
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    process.once(signal, () => {
      console.error(`\nDeploy interrupted (${signal}); cleaned up. Run it again: every step is idempotent.`);
      runCleanups();
      process.exit(code);
    });
  }
}
