// The buffered and far-from-the-database modes of `npm run bench:ingest` (issue 10).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { ROOT, TMP_DIR } from "./dev-server.mjs";

export const BUFFERED_EVENT = "bench:buffered";
export const BATCH_EVENT = "bench:buffered-batch";

function runCannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 10, ...opts }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on("error", reject);
  });
}

const completedOf = (result) => Object.values(result.statusCodeStats ?? {}).reduce((n, s) => n + Number(s.count), 0);

/**
 * Events with `Prefer: respond-async`: single events to /v1/ingest (what a PostHog destination
 * sends) or `batchSize` events per request to /v1/ingest/batch. Every item must be answered
 * `accepted: true` with an eventId, recorded in `acknowledged` (key → eventId).
 */
export async function bufferedPhase(baseUrl, { connections, duration, headers, body, acknowledged, batchSize = 0 }) {
  let accepted = 0;
  let other = 0;
  const ids = [];
  const accept = (key, answer) => {
    if (answer?.accepted === true && typeof answer.eventId === "string") {
      accepted += 1;
      acknowledged.set(key, answer.eventId);
      ids.push(answer.eventId);
    } else other += 1;
  };
  const result = await runCannon({
    url: baseUrl,
    connections,
    duration,
    requests: [
      {
        method: "POST",
        path: batchSize ? "/v1/ingest/batch" : "/v1/ingest",
        headers: { ...headers, prefer: "respond-async" },
        setupRequest(request, context) {
          const items = Array.from({ length: batchSize || 1 }, () => body(batchSize ? BATCH_EVENT : BUFFERED_EVENT));
          context.keys = items.map((item) => item.idempotencyKey);
          return { ...request, body: JSON.stringify(batchSize ? { events: items } : items[0]) };
        },
        onResponse(status, text, context) {
          let parsed = null;
          try {
            parsed = JSON.parse(text);
          } catch {}
          if (status !== 202) other += context.keys.length;
          else if (batchSize) for (const [i, key] of context.keys.entries()) accept(key, parsed?.results?.[i]);
          else accept(context.keys[0], parsed);
        },
      },
    ],
  });
  const completed = completedOf(result);
  return {
    rps: completed / result.duration,
    eventsPerSecond: accepted / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed,
    accepted,
    other,
    ids,
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
    .replace(/^migrations_dir = .*$/m, 'migrations_dir = "../../../migrations"')
    .replace(/^directory = "public"/m, 'directory = "../../../public"')
    .replace("node scripts/scalar-assets.mjs", `node ${path.join(ROOT, "scripts", "scalar-assets.mjs")}`);
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
