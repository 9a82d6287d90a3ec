// Runs the project's wrangler as a child process: the deploy drives wrangler's own commands, so it
// works with `wrangler login` as well as with an API token.
import { spawn } from "node:child_process";
import path from "node:path";
import { onExit } from "../bin/lib/cleanup.mjs";

export const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER_BIN = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/**
 * Runs wrangler with the project's Node, echoing its output, and resolves with that output.
 * CI=true: no prompts, and provisioned ids are not written back into wrangler.toml.
 * @param {string[]} args
 * @param {{ env?: Record<string, string | undefined>, quiet?: boolean, allowFailure?: boolean }} [options]
 * @returns {Promise<{ code: number | null, output: string, stdout: string }>}
 */
export function wrangler(args, { env, quiet = false, allowFailure = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // An interrupted deploy stops its wrangler too, rather than leave it uploading alone.
    const forget = onExit(() => child.kill("SIGTERM"));
    let output = "";
    let stdout = "";
    const collect = (stream, sink) =>
      stream.on("data", (chunk) => {
        output += chunk;
        if (stream === child.stdout) stdout += chunk;
        if (!quiet) sink.write(chunk);
      });
    collect(child.stdout, process.stdout);
    collect(child.stderr, process.stderr);
    child.on("error", reject);
    child.on("close", (code) => {
      forget();
      if (code === 0 || allowFailure) resolve({ code, output, stdout });
      else
        reject(new Error(`wrangler ${args[0]} ${args[1] ?? ""} failed (exit ${code}):\n${quiet ? output : ""}`.trim()));
    });
  });
}
