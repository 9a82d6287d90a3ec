// `hogsend broadcast`: one email to a segment of contacts, previewed, then followed to the end.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidArgumentError } from "commander";
import { createProgress } from "./progress.mjs";

const OPERATORS = [
  [">=", "gte"],
  ["<=", "lte"],
  ["!=", "neq"],
  ["~", "contains"],
  [">", "gt"],
  ["<", "lt"],
  ["=", "eq"],
];

/** `42` → 42, `true` → true, `null` → null, anything else stays text. @param {string} raw */
function parseValue(raw) {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === "true" || raw === "false") return raw === "true";
  if (raw === "null") return null;
  return raw;
}

/**
 * `plan=pro`, `seats>=10`, `plan!=free`, `name~acme`, `trial?` (exists), `!trial` (not_exists) as a
 * segment condition; repeatable, all must hold.
 * @param {string} value @param {Array<object>} [previous]
 */
export function collectWhere(value, previous = []) {
  const text = value.trim();
  if (/^!?[^=<>!~?]+\??$/.test(text) && (text.startsWith("!") || text.endsWith("?"))) {
    const property = text.replace(/^!/, "").replace(/\?$/, "");
    return [...previous, { property, op: text.startsWith("!") ? "not_exists" : "exists" }];
  }
  for (const [symbol, op] of OPERATORS) {
    const at = text.indexOf(symbol);
    if (at > 0) {
      const property = text.slice(0, at).trim();
      return [...previous, { property, op, value: parseValue(text.slice(at + symbol.length).trim()) }];
    }
  }
  throw new InvalidArgumentError("a condition like plan=pro, seats>=10, plan!=free, name~acme, trial? or !trial");
}

/** @param {string} value */
export function parseData(value) {
  try {
    const data = JSON.parse(value);
    if (data && typeof data === "object" && !Array.isArray(data)) return data;
  } catch {}
  throw new InvalidArgumentError('a JSON object, e.g. \'{"headline":"We moved"}\'');
}

const ENDED = ["completed", "cancelled", "failed"];

/** @param {Record<string, number>} skipped */
const skipLine = (skipped) =>
  Object.entries(skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ") || "none";

/**
 * Starts the broadcast (one Idempotency-Key per invocation, so the client's retries never start a
 * second one), prints a dry run's preview, or follows the broadcast with a progress bar until it ends.
 *
 * @param {import("./api.mjs").Client} client
 * @param {{ body: object, tty: boolean, out?: NodeJS.WritableStream, pollMs?: number }} options
 * @returns {Promise<number>} the exit code
 */
export async function broadcastCommand(client, { body, tty, out = process.stdout, pollMs = 1000 }) {
  const started = await client.call(
    client.api.POST("/v1/admin/broadcasts", {
      params: { header: { "idempotency-key": `cli-${randomUUID()}` } },
      body: /** @type {any} */ (body),
    }),
  );
  if ("dryRun" in started) {
    printPreview(out, started);
    return 0;
  }
  out.write(`Broadcast ${started.broadcastId}: ${started.status}\n`);
  const view = await follow(client, started.broadcastId, { tty, out, pollMs });
  printSummary(out, view);
  return view.status === "completed" ? 0 : 1;
}

/** @param {NodeJS.WritableStream} out @param {any} preview */
function printPreview(out, preview) {
  out.write(`Dry run: ${preview.targeted} contacts, ${preview.queued} would be sent\n`);
  out.write(`Skipped: ${skipLine(preview.skipped)}\n`);
  for (const sample of preview.samples) out.write(`Sample to ${sample.to}: ${sample.subject}\n`);
}

/** @param {NodeJS.WritableStream} out @param {any} b */
function printSummary(out, b) {
  const sent = b.dryRun ? `${b.queued} would be sent` : `${b.sent} sent, ${b.failed} failed, ${b.cancelled} cancelled`;
  out.write(`Broadcast ${b.id} ${b.status}: ${b.targeted} contacts, ${sent}\n`);
  out.write(`Skipped: ${skipLine(b.skipped)}\n`);
  if (b.error) out.write(`Error: ${b.error}\n`);
}

/** Decided so far: everything but what is still queued. @param {any} b */
const decided = (b) =>
  b.sent +
  b.failed +
  b.cancelled +
  Object.values(b.skipped).reduce((sum, n) => sum + Number(n), 0) +
  (b.dryRun ? b.queued : 0);

/** @param {import("./api.mjs").Client} client @param {string} id @param {{tty: boolean, out: NodeJS.WritableStream, pollMs: number}} o */
async function follow(client, id, { tty, out, pollMs }) {
  const get = () =>
    client.call(client.api.GET("/v1/admin/broadcasts/{broadcastId}", { params: { path: { broadcastId: id } } }));
  let view = await get();
  const bar = createProgress({
    label: "Broadcast",
    total: view.targeted,
    tty,
    out,
    describe: (value, total) => `${value}/${total} decided, ${view.sent} sent, ${view.queued} queued`,
  });
  while (!ENDED.includes(view.status)) {
    bar.update(decided(view), view.targeted);
    await sleep(pollMs);
    view = await get();
  }
  bar.update(decided(view), view.targeted);
  bar.stop();
  return view;
}
