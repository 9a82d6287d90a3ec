import { env, exports } from "cloudflare:workers";
import type { JourneyDefinition } from "../src/journeys/define";
import { keyedHash } from "../src/lib/keyed-hash";
import { assertConforms } from "./conformance";

export const adminAuth = () => ({ authorization: `Bearer ${env.ADMIN_API_KEY}` });
export const ingestAuth = () => ({ authorization: `Bearer ${env.INGEST_API_KEY}` });

/** Sends a request through the Worker's real fetch handler. */
export async function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, headers, ...rest } = init;
  const finalHeaders = new Headers(headers);
  let body = rest.body;
  if (json !== undefined) {
    finalHeaders.set("content-type", "application/json");
    body = JSON.stringify(json);
  }
  const method = (rest.method ?? "GET").toUpperCase();
  const response = await exports.default.fetch(
    new Request(`http://localhost${path}`, { ...rest, headers: finalHeaders, body }),
  );
  await assertConforms(method, new URL(path, "http://localhost").pathname, response);
  return response;
}

export const adminGet = (path: string) => call(path, { headers: adminAuth() });
export const adminPost = (path: string, json?: unknown) => call(path, { method: "POST", headers: adminAuth(), json });

/** An NDJSON body as text (workerd warns on `.text()` for a content type it doesn't count as text). */
export const ndjsonText = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

export const unique = (prefix: string) => `${prefix}_${crypto.randomUUID().slice(0, 8)}`;

export async function expectErrorShape(res: Response, status: number, code?: string) {
  const body = (await res.json()) as { error: string; code: string; requestId: string };
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(body)}`);
  if (typeof body.error !== "string" || !body.error) throw new Error(`no error message: ${JSON.stringify(body)}`);
  if (typeof body.requestId !== "string" || !body.requestId) throw new Error(`no requestId: ${JSON.stringify(body)}`);
  if (code && body.code !== code) throw new Error(`expected code ${code}, got ${body.code}: ${body.error}`);
  return body;
}

/** A minimal journey definition for tests that exercise the guards or validation directly. */
export function testJourney(overrides: Partial<JourneyDefinition> = {}): JourneyDefinition {
  return {
    key: "test-journey",
    name: "Test journey",
    description: "For tests",
    enabled: true,
    trigger: { event: "t" },
    entryLimit: "once",
    exitOn: [],
    run: async () => {},
    ...overrides,
  };
}

/** The id of the event stored under this idempotency key once it is processed (buffered ingest, PostHog). */
export async function waitForProcessedEvent(idempotencyKey: string): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const row = await env.DB.prepare("SELECT id FROM events WHERE idempotency_key = ? AND processed_at IS NOT NULL")
      .bind(idempotencyKey)
      .first<{ id: string }>();
    if (row) return row.id;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the event with key ${idempotencyKey} was never written and processed`);
}

/** The Worker's keyed hash under the test secret (what erasure leaves behind). */
export const testHash = keyedHash(env.ERASURE_HASH_SECRET);

/**
 * A contact (created through ingest, with an address) and a queued email of `template` for it,
 * ready to deliver; `journey` names the journey it belongs to.
 */
export async function queuedEmail(
  template = "welcome",
  props: Record<string, unknown> = { name: "Grace" },
  journey: string | null = null,
) {
  const userId = unique("deliv");
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: `${userId}@example.com` },
  });
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, template_key, journey_key, props, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
  )
    .bind(id, userId, template, journey, JSON.stringify(props), Date.now(), Date.now())
    .run();
  return { id, userId };
}
