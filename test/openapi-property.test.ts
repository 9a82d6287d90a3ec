import { env } from "cloudflare:workers";
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it } from "vitest";
import { signUnsubscribeToken } from "../src/lib/tokens";
import { adminAuth, adminPost, call, ingestAuth, unique } from "./helpers";
import { type Components, invalidArb, type Schema, valueArb } from "./openapi-arbitraries";

/**
 * Requests generated from /openapi.json for every operation, valid and invalid, with and without
 * the credentials each operation's `security` names. `call()` checks every answer against the
 * document (a documented status, a body its schema accepts); this test adds: never a 5xx.
 */
type Parameter = { name: string; in: "path" | "query" | "header"; required?: boolean; schema: Schema };
type Operation = {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
};
type OpenApi = { paths: Record<string, Record<string, Operation>>; components: Components };

const RUNS_PER_OPERATION = 25;

let doc: OpenApi;
/** Values of path parameters that name real rows, so valid requests reach the happy path too. */
const known: Record<string, string[]> = { key: ["activation-welcome", "cart-recovery"] };
let unsubscribeToken = "";

beforeAll(async () => {
  doc = (await (await call("/openapi.json")).json()) as OpenApi;
  const userId = unique("prop");
  const ingested = (await (
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "user:signed_up", userId, userEmail: `${userId}@example.com` },
    })
  ).json()) as { eventId: string; journeys: Array<{ enrollmentId: string }> };
  const contact = (await (await call(`/v1/admin/contacts/${userId}`, { headers: adminAuth() })).json()) as {
    id: string;
  };
  const job = (await (
    await adminPost("/v1/admin/contacts/import", { format: "csv", data: `externalId,email\n${userId}_i,i@example.com` })
  ).json()) as { jobId: string };
  const upload = (await (await adminPost("/v1/admin/contacts/import/uploads", { format: "csv" })).json()) as {
    uploadId: string;
  };
  const backfill = (await (
    await adminPost("/v1/admin/journeys/activation-welcome/backfill", { filter: { search: "nobody-matches" } })
  ).json()) as { id: string };
  known.idOrExternalId = [userId, contact.id];
  known.partNumber = ["1", "2"];
  known.eventId = [ingested.eventId];
  known.enrollmentId = ingested.journeys.map((j) => j.enrollmentId);
  known.jobId = [job.jobId, backfill.id];
  known.uploadId = [upload.uploadId];
  unsubscribeToken = await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, contact.id);
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.entries(item).map(([method, op]) => ({ template, method: method.toUpperCase(), op })),
  );

/** A path segment: a known id, or any string (encoded; never "." or "..", which a URL folds away). */
const segmentArb = (param: Parameter) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(known[param.name] ?? ["x"])) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s !== "." && s !== "..") },
  );

type Credential = "valid" | "none" | "wrong";

function authHeaders(op: Operation, credential: Credential, body: string): Record<string, string> {
  const schemes = (op.security ?? []).flatMap((alternative) => Object.keys(alternative));
  if (credential === "none" || schemes.length === 0) return {};
  const scheme = schemes[0]!;
  if (scheme === "apiKey") {
    // The admin key holds every scope (test/scopes.test.ts covers each scope on each operation).
    const key = env.ADMIN_API_KEY;
    return { authorization: `Bearer ${credential === "valid" ? key : `${key}-wrong`}` };
  }
  if (scheme === "postHogSecret") {
    return { "x-posthog-webhook-secret": credential === "valid" ? env.POSTHOG_WEBHOOK_SECRET : "wrong" };
  }
  const id = `msg_${crypto.randomUUID()}`;
  const now = new Date();
  const signature = new Webhook(env.RESEND_WEBHOOK_SECRET).sign(id, now, body);
  return {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
    "svix-signature": credential === "valid" ? signature : "v1,d3Jvbmc=",
  };
}

type Generated = { path: string; query: string; headers: Record<string, string>; body?: string; contentType?: string };

function requestArb(template: string, op: Operation): fc.Arbitrary<Generated> {
  const params = op.parameters ?? [];
  const pathArb = fc.record(
    Object.fromEntries(params.filter((p) => p.in === "path").map((p) => [p.name, segmentArb(p)])),
  ) as fc.Arbitrary<Record<string, string>>;
  const optional = (p: Parameter) =>
    fc.option(fc.oneof(valueArb(p.schema, doc.components), fc.string({ maxLength: 12 })).map(String), {
      nil: undefined,
      freq: 2,
    });
  const queryArb = fc.record(
    Object.fromEntries(
      params.filter((p) => p.in === "query").map((p) => [p.name, p.name === "token" ? tokenArb() : optional(p)]),
    ),
  ) as fc.Arbitrary<Record<string, string | undefined>>;
  const headerArb = fc.record(
    Object.fromEntries(params.filter((p) => p.in === "header").map((p) => [p.name, optional(p)])),
  ) as fc.Arbitrary<Record<string, string | undefined>>;
  return fc
    .record({ path: pathArb, query: queryArb, headers: headerArb, body: bodyArb(op) })
    .map(({ path, query, headers, body }) => ({
      path: template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(path[name] ?? "x")),
      query: new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined))
        .toString()
        .replace(/^(?=.)/, "?"),
      headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined)),
      ...body,
    }));
}

const tokenArb = () =>
  fc.oneof(fc.constant(unsubscribeToken), fc.string({ minLength: 1, maxLength: 40 }), fc.constant(undefined));

function bodyArb(op: Operation): fc.Arbitrary<{ body?: string; contentType?: string }> {
  const content = op.requestBody?.content;
  if (!content) return fc.constant({});
  const json = content["application/json"]?.schema;
  const forms: Array<fc.Arbitrary<{ body?: string; contentType?: string }>> = [];
  if (json) {
    const valid = valueArb(json, doc.components).map((v) => ({
      body: JSON.stringify(v),
      contentType: "application/json",
    }));
    const invalid = invalidArb(json, doc.components).map((v) => ({
      body: JSON.stringify(v),
      contentType: "application/json",
    }));
    forms.push(valid, valid, invalid, fc.constant({ body: "{not json", contentType: "application/json" }));
  }
  for (const type of Object.keys(content).filter((t) => t !== "application/json")) {
    forms.push(fc.string({ minLength: 1, maxLength: 80 }).map((body) => ({ body, contentType: type })));
  }
  forms.push(fc.constant({ body: "plain", contentType: "text/plain" }));
  return fc.oneof(...forms);
}

describe("every operation in /openapi.json, generated requests", () => {
  it("covers every documented operation", () => {
    expect(operations().length).toBeGreaterThanOrEqual(43);
  });

  it("never answers 5xx, and answers only documented statuses with documented bodies", async () => {
    for (const { template, method, op } of operations()) {
      const credentialArb = fc.constantFrom<Credential>(...Array<Credential>(8).fill("valid"), "none", "wrong");
      await fc.assert(
        fc.asyncProperty(requestArb(template, op), credentialArb, async (req, credential) => {
          const headers: Record<string, string> = {
            ...req.headers,
            ...authHeaders(op, credential, req.body ?? ""),
          };
          if (req.contentType) headers["content-type"] = req.contentType;
          const where = `${op.operationId}: ${method} ${req.path}${req.query} (${credential} key) ${String(req.body).slice(0, 120)}`;
          // call() throws when the status or the JSON body isn't what the document says.
          const res = await call(`${req.path}${req.query}`, { method, headers, body: req.body });
          const text = await res.text();
          expect(res.status, `${where} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
        }),
        { numRuns: RUNS_PER_OPERATION, seed: 20261206, endOnFailure: true },
      );
    }
  }, 120_000);
});
