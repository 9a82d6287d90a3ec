// What a command must not leave behind (a temporary spool, a partial output file) is removed on
// every way out: a normal end, an error, and Ctrl-C or a kill, which would otherwise end Node
// before any `finally` runs.
import { rmSync } from "node:fs";

const cleanups = new Set();

/** Removes `target` when the process ends (a folder only when `recursive`); returns a function that keeps it. */
export function removeOnExit(target, { recursive = false } = {}) {
  const remove = () => rmSync(target, { recursive, force: true });
  cleanups.add(remove);
  return () => cleanups.delete(remove);
}

function runCleanups() {
  for (const remove of cleanups) remove();
  cleanups.clear();
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** For commands with nothing to wind down on the server: a signal cleans up and exits. */
export function exitCleanlyOnSignals(message) {
  process.on("exit", runCleanups);
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    process.once(signal, () => {
      runCleanups();
      console.error(message);
      process.exit(code);
    });
  }
}
