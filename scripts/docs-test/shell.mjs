// One bash session per document: variables an example sets (JOB=$(curl … | jq -r .jobId)) are
// there for the examples after it, as in a terminal a reader types them into.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

export function startShell({ cwd, env }) {
  const child = spawn("bash", ["--noprofile", "--norc"], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let waiter = null;
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
    waiter?.();
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  let exited = false;
  child.on("exit", () => {
    exited = true;
    waiter?.();
  });

  /** Runs `code` in the session; resolves with its stdout, stderr and the last command's status. */
  async function run(code, { timeoutMs = 60_000 } = {}) {
    const sentinel = `__docs_test_${randomBytes(6).toString("hex")}__`;
    stdout = "";
    stderr = "";
    child.stdin.write(`${code}\nprintf '\\n${sentinel} %s\\n' "$?"\n`);
    const deadline = Date.now() + timeoutMs;
    const pattern = new RegExp(`\\n?${sentinel} (\\d+)\\n`);
    for (;;) {
      const match = stdout.match(pattern);
      if (match) return { stdout: stdout.slice(0, match.index), stderr, status: Number(match[1]) };
      if (exited) return { stdout, stderr, status: -1 };
      if (Date.now() > deadline) throw new Error(`example still running after ${timeoutMs} ms\n${stderr.slice(-2000)}`);
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
    },
  };
}
