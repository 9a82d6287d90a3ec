// The buffered and far-from-the-database modes of `npm run bench:ingest` (issue 10).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { ROOT, TMP_DIR } from "./dev-server.mjs";

export const BUFFERED_EVENT = "bench:buffered";

function runCannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 10, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("error", reject);
  });
}

const completedOf = (result) => Object.values(result.statusCodeStats ?? {}).reduce((n, s) => n + Number(s.count), 0);

/**
 * Single events with `Prefer: respond-async` (what a PostHog destination sends): every 202 must
 * carry `accepted: true` and an eventId, recorded in `acknowledged` (key → eventId).
 */
export async function bufferedPhase(baseUrl, { connections, duration, headers, body, acknowledged }) {
  let accepted = 0;
  const other = new Map();
  const ids = [];
  const result = await runCannon({
    url: baseUrl,
    connections,
    duration,
    requests: [
      {
        method: "POST",
        path: "/v1/ingest",
        headers: { ...headers, prefer: "respond-async" },
        setupRequest(request, context) {
          const item = body(BUFFERED_EVENT);
          context.key = item.idempotencyKey;
          return { ...request, body: JSON.stringify(item) };
        },
        onResponse(status, text, context) {
          let parsed = null;
          try {
            parsed = JSON.parse(text);
          } catch {}
          if (status === 202 && parsed?.accepted === true && typeof parsed.eventId === "string") {
            accepted += 1;
            acknowledged.set(context.key, parsed.eventId);
            ids.push(parsed.eventId);
          } else other.set(status, (other.get(status) ?? 0) + 1);
        },
      },
    ],
  });
  return {
    rps: completedOf(result) / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed: completedOf(result),
    accepted,
    other,
    ids,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** Polls the admin API until the last acknowledged events are processed (the full check runs on D1 later). */
export async function waitForDrain(baseUrl, adminKey, ids, { timeoutMs = 180_000 } = {}) {
  const sample = ids.slice(-50);
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  for (const id of sample) {
    for (;;) {
      const res = await fetch(`${baseUrl}/v1/admin/events/${id}`, { headers: { authorization: `Bearer ${adminKey}` } });
      const event = res.ok ? await res.json() : null;
      if (event?.processedAt) break;
      if (Date.now() > deadline) throw new Error(`buffered events not written within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  // The queue may still hold a straggler batch; give it a few consumer cycles.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  return (Date.now() - started) / 1000;
}

/**
 * A wrangler config for the far-from-the-database server: the project's own, with `main` pointing at
 * bench/far-worker.ts (50 ms added to every D1 round trip). Paths are relative to the config.
 */
export function farConfig() {
  const dir = path.join(TMP_DIR, "far-config");
  mkdirSync(dir, { recursive: true });
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, 'main = "../../far-worker.ts"')
    .replace(/^migrations_dir = .*$/m, 'migrations_dir = "../../../migrations"');
  const config = path.join(dir, "wrangler.toml");
  writeFileSync(config, toml);
  copyFileSync(path.join(ROOT, ".dev.vars"), path.join(dir, ".dev.vars"));
  return config;
}

/** Latency of one route at low concurrency (far mode: latency is the question, not throughput). */
export async function latencyPhase(baseUrl, { connections, duration, request }) {
  const result = await runCannon({ url: baseUrl, connections, duration, requests: [request] });
  return {
    rps: completedOf(result) / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed: completedOf(result),
    non2xx: result.non2xx,
  };
}
