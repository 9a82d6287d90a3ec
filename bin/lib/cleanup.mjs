// What a command must not leave behind (a temporary spool, a partial output file, a generated
// config, a running child) is undone on every way out: a normal end, an error, and Ctrl-C or a
// kill, which would otherwise end Node before any `finally` runs. The CLI and the deploy share it.
import { rmSync } from "node:fs";

/** @type {Set<() => void>} */
const cleanups = new Set();

/** Registers `undo` to run once when the process ends; returns a function that unregisters it. @param {() => void} undo */
export function onExit(undo) {
  cleanups.add(undo);
  return () => cleanups.delete(undo);
}

/**
 * Removes `target` when the process ends (a folder only when `recursive`); returns a function that keeps it.
 * @param {string} target @param {{ recursive?: boolean }} [options]
 */
export function removeOnExit(target, { recursive = false } = {}) {
  return onExit(() => rmSync(target, { recursive, force: true }));
}

function runCleanups() {
  for (const undo of cleanups) undo();
  cleanups.clear();
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Runs the cleanups at exit; a signal cleans up, prints `message(signal)` and exits with the shell's code.
 * @param {string | ((signal: string) => string)} message
 */
export function exitCleanlyOnSignals(message) {
  process.on("exit", runCleanups);
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    process.once(signal, () => {
      runCleanups();
      console.error(typeof message === "function" ? message(signal) : message);
      process.exit(code);
    });
  }
}
