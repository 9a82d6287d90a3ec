import { Validator } from "@cfworker/json-schema";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp, ROUTE_GROUPS } from "../src/app";
import { routesFor } from "../src/http/router";
import { documentProblems } from "./conformance";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, ingestAuth, unique } from "./helpers";

type Operation = {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; schema: { pattern?: string } }>;
  requestBody?: { content: Record<string, { schema: object }> };
};
type OpenApi = {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, Record<string, string>> };
};

let doc: OpenApi;
beforeAll(async () => {
  doc = (await (await call("/openapi.json")).json()) as OpenApi;
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );

/** Whether the document's request schema for this operation accepts `body`. */
function documentAccepts(path: string, method: string, body: unknown): boolean {
  const schema = doc.paths[path]![method]!.requestBody!.content["application/json"]!.schema;
  return new Validator({ ...schema, components: doc.components } as never, "2020-12").validate(body).valid;
}

describe("item 9: the backfill job's schema takes every filter the request takes", () => {
  it("a job started with search, createdFrom, createdTo and importJobId conforms, started, listed and read", async () => {
    const imported = await adminPost("/v1/admin/contacts/import", { format: "csv", data: "externalId\nitem9" });
    const { jobId } = (await imported.json()) as { jobId: string };
    const filter = {
      where: [{ property: "plan", op: "eq", value: "pro" }],
      search: unique("nobody"),
      createdFrom: "2020-01-01T00:00:00Z",
      createdTo: "2030-01-01T00:00:00Z",
      importJobId: jobId,
    };
    const started = await adminPost("/v1/admin/journeys/activation-welcome/backfill", { filter });
    expect(started.status).toBe(202);
    const job = (await started.json()) as { id: string; filter: unknown };
    expect(job.filter).toEqual(filter);
    expect(documentProblems("POST", "/v1/admin/journeys/activation-welcome/backfill", 202, job)).toEqual([]);
    const read = await (await adminGet(`/v1/admin/journeys/backfills/${job.id}`)).json();
    expect(documentProblems("GET", `/v1/admin/journeys/backfills/${job.id}`, 200, read)).toEqual([]);
    const list = await (await adminGet("/v1/admin/journeys/backfills?journey=activation-welcome")).json();
    expect(documentProblems("GET", "/v1/admin/journeys/backfills", 200, list)).toEqual([]);
  });
});

describe("item 10: the document refuses what the server refuses", () => {
  const user = (i: number) => ({ userId: `u${i}`, userEmail: `u${i}@example.com` });
  const cases: Array<[string, string, string, unknown, boolean]> = [
    ["ingest batch: empty", "/v1/ingest/batch", "post", { events: [] }, false],
    [
      "ingest batch: 501",
      "/v1/ingest/batch",
      "post",
      { events: Array.from({ length: 501 }, (_, i) => ({ event: "e", userId: `u${i}` })) },
      false,
    ],
    ["enroll batch: empty", "/v1/admin/journeys/{key}/enroll/batch", "post", { users: [], dryRun: true }, false],
    [
      "enroll batch: 501",
      "/v1/admin/journeys/{key}/enroll/batch",
      "post",
      { users: Array.from({ length: 501 }, (_, i) => user(i)), dryRun: true },
      false,
    ],
    ["enroll batch: 500", "/v1/admin/journeys/{key}/enroll/batch", "post", { users: [user(1)], dryRun: true }, true],
    ["replay: neither form", "/v1/admin/events/replay", "post", { dryRun: true }, false],
    ["replay: both forms", "/v1/admin/events/replay", "post", { eventIds: ["e1"], filter: {}, dryRun: true }, false],
    ["replay: ids", "/v1/admin/events/replay", "post", { eventIds: ["e1"], dryRun: true }, true],
    ["replay: filter", "/v1/admin/events/replay", "post", { filter: { event: "nothing" }, dryRun: true }, true],
    [
      "segment: eq without value",
      "/v1/admin/journeys/{key}/backfill",
      "post",
      { filter: { where: [{ property: "plan", op: "eq" }] }, dryRun: true },
      false,
    ],
    [
      "segment: exists without value",
      "/v1/admin/journeys/{key}/backfill",
      "post",
      { filter: { where: [{ property: "plan", op: "exists" }], search: "nobody-here" }, dryRun: true },
      true,
    ],
    [
      "mapping: empty key",
      "/v1/admin/contacts/import",
      "post",
      { format: "csv", data: "a,b\n1,2", mapping: { "": "email" }, dryRun: true },
      false,
    ],
    [
      "mapping: blank key",
      "/v1/admin/contacts/import",
      "post",
      { format: "csv", data: "a,b\n1,2", mapping: { "  ": "email" }, dryRun: true },
      false,
    ],
    [
      "mapping: a key",
      "/v1/admin/contacts/import",
      "post",
      { format: "csv", data: "a,b\n1,2", mapping: { a: "externalId" }, dryRun: true },
      true,
    ],
    [
      "email: no dot in the domain",
      "/v1/ingest",
      "post",
      { event: "e", userId: "u", userEmail: "ada@localhost" },
      false,
    ],
    ["email: two dots", "/v1/ingest", "post", { event: "e", userId: "u", userEmail: "a..b@example.com" }, false],
    ["email: plain", "/v1/ingest", "post", { event: "e", userId: "u", userEmail: "o'neil+x@example.co" }, true],
  ];

  it.each(cases)("%s: the document and the server agree", async (_name, path, method, body, accepted) => {
    expect(documentAccepts(path, method, body)).toBe(accepted);
    const url = path.replace("{key}", "activation-welcome");
    const auth = url.startsWith("/v1/ingest") ? ingestAuth() : adminAuth();
    const res = await call(url, { method: method.toUpperCase(), headers: auth, json: body });
    if (accepted) expect(res.status, await res.clone().text()).toBeLessThan(300);
    else await expectErrorShape(res, 400, "VALIDATION_ERROR");
  });

  it("keeps naming the field that failed", async () => {
    const replay = (json: unknown) => call("/v1/admin/events/replay", { method: "POST", headers: adminAuth(), json });
    expect((await expectErrorShape(await replay({ eventIds: [] }), 400)).error).toContain("eventIds");
    expect((await expectErrorShape(await replay({}), 400)).error).toContain("eventIds or filter");
    const backfill = await adminPost("/v1/admin/journeys/activation-welcome/backfill", {
      filter: { where: [{ property: "plan", op: "gt" }] },
    });
    expect((await expectErrorShape(backfill, 400)).error).toContain("this op needs a value");
  });
});

describe("item 11: operation ids, servers and the auth each operation takes", () => {
  it("names every operation once, in camelCase, with the ids clients are generated from", () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === "string" && /^[a-z][a-zA-Z0-9]*$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.fromEntries(operations().map((o) => [`${o.method} ${o.path}`, o.op.operationId]))).toMatchObject({
      "GET /v1/health": "getHealth",
      "POST /v1/ingest": "ingestEvent",
      "POST /v1/ingest/batch": "ingestEventBatch",
      "POST /v1/webhooks/posthog": "receivePostHogWebhook",
      "POST /v1/webhooks/resend": "receiveResendWebhook",
      "POST /v1/email/unsubscribe": "unsubscribeOneClick",
      "GET /v1/admin/contacts/{idOrExternalId}": "getContact",
      "DELETE /v1/admin/contacts/{idOrExternalId}": "eraseContact",
      "POST /v1/admin/contacts/import": "startContactImport",
      "GET /v1/admin/contacts/import/{jobId}": "getImportJob",
      "POST /v1/admin/events/replay": "replayEvents",
      "POST /v1/admin/journeys/{key}/backfill": "startJourneyBackfill",
      "POST /v1/admin/journeys/{key}/enroll/batch": "enrollJourneyBatch",
      "GET /openapi.json": "getOpenApiDocument",
    });
  });

  it("has servers, and one security scheme per way in", () => {
    expect(doc.servers).toEqual([{ url: "/" }]);
    const schemes = doc.components.securitySchemes;
    expect(schemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
    expect(schemes.postHogSecret).toMatchObject({ type: "apiKey", in: "header", name: "x-posthog-webhook-secret" });
    expect(schemes.resendSignature).toMatchObject({ type: "apiKey", in: "header", name: "svix-signature" });
  });

  it("declares on each operation the auth it takes", () => {
    const security = (path: string, method = "get") => doc.paths[path]![method]!.security;
    expect(security("/v1/health")).toEqual([{}, { apiKey: ["read"] }]);
    expect(security("/v1/ingest", "post")).toEqual([{ apiKey: ["ingest"] }]);
    expect(security("/v1/webhooks/posthog", "post")).toEqual([{ postHogSecret: [] }]);
    expect(security("/v1/webhooks/resend", "post")).toEqual([{ resendSignature: [] }]);
    for (const path of ["/v1/email/unsubscribe", "/openapi.json", "/docs"]) expect(security(path)).toEqual([]);
    for (const { path, op } of operations().filter((o) => o.path.startsWith("/v1/admin/"))) {
      // One scope per operation (test/scopes.test.ts checks each one is enforced).
      expect(op.security, path).toEqual([{ apiKey: [expect.stringMatching(/^(read|operate|admin)$/)] }]);
    }
    for (const { path, op } of operations()) expect(op.security, path).toBeDefined();
  });

  it("the public operations answer without a key; the admin ones refuse without one", async () => {
    expect((await call("/v1/health")).status).toBe(200);
    expect((await call("/openapi.json")).status).toBe(200);
    expect((await call("/docs")).status).toBe(200);
    await expectErrorShape(await call("/v1/admin/metrics/overview"), 401, "UNAUTHORIZED");
    const ingestKeyOnAdmin = await call("/v1/admin/metrics/overview", { headers: ingestAuth() });
    await expectErrorShape(ingestKeyOnAdmin, 403, "FORBIDDEN");
  });
});

describe("item 12: a method a path doesn't have answers 405 with Allow", () => {
  it("GET on the PostHog webhook is 405, not 401, with no secret sent", async () => {
    const res = await call("/v1/webhooks/posthog");
    expect(res.headers.get("allow")).toBe("POST");
    await expectErrorShape(res, 405, "METHOD_NOT_ALLOWED");
  });

  it("every documented path answers each method it lacks with 405 and the methods it has", async () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const url = path.replace(/\{([^}]+)\}/g, "sample");
      const has = Object.keys(item).map((m) => m.toUpperCase());
      const allow = has.includes("GET") ? ["GET", "HEAD", ...has.filter((m) => m !== "GET")] : has;
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => !has.includes(m))) {
        const res = await call(url, { method });
        expect(res.status, `${method} ${url}`).toBe(405);
        expect(res.headers.get("allow")?.split(", ").sort(), `${method} ${url}`).toEqual([...allow].sort());
        await expectErrorShape(res, 405, "METHOD_NOT_ALLOWED");
      }
    }
  });

  it("unknown paths stay 404 (after the key check on admin paths)", async () => {
    await expectErrorShape(await call("/v1/nope", { method: "DELETE" }), 404, "NOT_FOUND");
    await expectErrorShape(await call("/v1/admin/nothing/here", { headers: adminAuth() }), 404, "NOT_FOUND");
    await expectErrorShape(await call("/v1/admin/nothing/here"), 401, "UNAUTHORIZED");
  });
});

describe("item 13: no two documented paths match one URL, whatever the order routes are mounted in", () => {
  /** A documented segment against a concrete one: a literal equals it, a parameter's pattern accepts it. */
  const segmentMatches = (segment: string, value: string, patterns: Record<string, RegExp>) => {
    const param = /^\{(.+)\}$/.exec(segment)?.[1];
    return param ? (patterns[param]?.test(value) ?? true) : segment === value;
  };
  const patternsOf = (path: string) =>
    Object.fromEntries(
      Object.values(doc.paths[path]!).flatMap((op) =>
        (op.parameters ?? [])
          .filter((p) => p.in === "path" && p.schema.pattern)
          .map((p) => [p.name, new RegExp(p.schema.pattern!, "u")]),
      ),
    );

  /** URLs that stress each path: every parameter tried with each literal other paths have in its place. */
  const probeUrls = () => {
    const paths = Object.keys(doc.paths);
    const split = (p: string) => p.split("/");
    return paths.flatMap((path) => {
      const segments = split(path);
      const choices = segments.map((segment, i) =>
        segment.startsWith("{")
          ? ["sample", ...paths.map((other) => split(other)[i]).filter((s): s is string => !!s && !s.startsWith("{"))]
          : [segment],
      );
      return choices.reduce<string[][]>((urls, options) => urls.flatMap((u) => options.map((o) => [...u, o])), [[]]);
    });
  };

  it("the document: no URL matches two paths", () => {
    const paths = Object.keys(doc.paths);
    const overlaps = probeUrls().flatMap((url) => {
      const matching = paths.filter((path) => {
        const segments = path.split("/");
        const patterns = patternsOf(path);
        return segments.length === url.length && segments.every((s, i) => segmentMatches(s, url[i]!, patterns));
      });
      return matching.length > 1 ? [`${url.join("/")}: ${matching.join(" and ")}`] : [];
    });
    expect(overlaps).toEqual([]);
  });

  it("the router: every probe URL reaches the same one route mounted forwards, backwards or shuffled", () => {
    const routing = (groups: typeof ROUTE_GROUPS) => {
      const router = createApp(groups).router;
      return probeUrls().map((url) =>
        ["GET", "POST", "PUT", "PATCH", "DELETE"].map((method) => routesFor(router, method, url.join("/"))),
      );
    };
    const forwards = routing(ROUTE_GROUPS);
    for (const methods of forwards) for (const routes of methods) expect(routes.length).toBeLessThanOrEqual(1);
    expect(routing([...ROUTE_GROUPS].reverse())).toEqual(forwards);
    fc.assert(
      fc.property(fc.shuffledSubarray(ROUTE_GROUPS, { minLength: ROUTE_GROUPS.length }), (shuffled) => {
        expect(routing(shuffled)).toEqual(forwards);
      }),
      { numRuns: 5, seed: 13 },
    );
  });

  it("each documented operation is reached at a sample URL", () => {
    const router = createApp([...ROUTE_GROUPS].reverse()).router;
    for (const { path, method } of operations()) {
      const url = path.replace(/\{([^}]+)\}/g, "sample");
      expect(routesFor(router, method, url), `${method} ${url}`).toEqual([path.replace(/\{([^}]+)\}/g, ":$1")]);
    }
  });

  it("the literal paths win over a parameter: /contacts/export exports, /contacts/import/preferences is a job id", async () => {
    expect((await adminGet("/v1/admin/contacts/export?limit=1")).status).toBe(200);
    const notAJob = await adminGet("/v1/admin/contacts/import/preferences");
    expect((await expectErrorShape(notAJob, 404, "NOT_FOUND")).error).toMatch(/import job/i);
    await expectErrorShape(await adminGet("/v1/admin/journeys/backfills/enrollments"), 404, "NOT_FOUND");
  });
});
