// One bash session per document: variables an example sets (JOB=$(curl … | jq -r .jobId)) are
// there for the examples after it, as in a terminal a reader types them into.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export function startShell({ cwd, env }) {
  const child = spawn("bash", ["--noprofile", "--norc"], { cwd, env, stdio: ["pipe", "pipe", "inherit"] });
  // Each example writes to files, not to the session's stdout: Node gives a child a socket, and a
  // Node program inside the example (wrangler --pipe) that ends its stdout would shut that socket
  // for the whole session.
  const dir = mkdtempSync(path.join(os.tmpdir(), "hogsend-docs-shell-"));
  const outFile = path.join(dir, "stdout");
  const errFile = path.join(dir, "stderr");
  let control = "";
  let waiter = null;
  child.stdout.on("data", (chunk) => {
    control += chunk;
    waiter?.();
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
    waiter?.();
  });
  const read = (file) => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return "";
    }
  };

  /** Runs `code` in the session; resolves with its stdout, stderr and the last command's status. */
  async function run(code, { timeoutMs = 60_000 } = {}) {
    const sentinel = `__docs_test_${randomBytes(6).toString("hex")}__`;
    control = "";
    // A group runs in the session's own shell (variables persist); stdin closed, so a command that
    // reads stdin can't swallow the examples that follow.
    child.stdin.write(`{\n${code}\n} < /dev/null > '${outFile}' 2> '${errFile}'\nprintf '${sentinel} %s\\n' "$?"\n`);
    const deadline = Date.now() + timeoutMs;
    const pattern = new RegExp(`${sentinel} (\\d+)\\n`);
    for (;;) {
      const match = control.match(pattern);
      if (match) return { stdout: read(outFile), stderr: read(errFile), status: Number(match[1]) };
      if (exited) return { stdout: read(outFile), stderr: read(errFile), status: -1 };
      if (Date.now() > deadline)
        throw new Error(`example still running after ${timeoutMs} ms\n${read(errFile).slice(-2000)}`);
      await new Promise((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 200);
      });
      waiter = null;
    }
  }

  return {
    run,
    close() {
      child.stdin.end();
      if (!exited) child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
