import { describe, expect, it } from "vitest";
import { adminAuth, call, expectErrorShape, ingestAuth } from "./helpers";

describe("front door", () => {
  it("tells the public only whether it is healthy", async () => {
    const res = await call("/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("reports the database and migrations to a key with the read scope only", async () => {
    const res = await call("/v1/health", { headers: adminAuth() });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      database: string;
      migrations: { applied: number; latest: string; missingTables: string[] };
    };
    expect(body.status).toBe("ok");
    expect(body.database).toBe("reachable");
    expect(body.migrations.applied).toBeGreaterThan(0);
    expect(body.migrations.latest).toMatch(/\.sql$/);
    expect(body.migrations.missingTables).toEqual([]);
  });

  it("refuses a wrong key rather than quietly answering the public status", async () => {
    await expectErrorShape(
      await call("/v1/health", { headers: { authorization: "Bearer not-the-key" } }),
      401,
      "UNAUTHORIZED",
    );
    // The ingest key is a key, but without the `read` scope the details need.
    await expectErrorShape(await call("/v1/health", { headers: ingestAuth() }), 403, "FORBIDDEN");
  });

  it("puts a request id on every response, echoing a valid incoming one", async () => {
    const res = await call("/v1/health", { headers: { "x-request-id": "trace-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-123");
    const generated = await call("/v1/health");
    expect(generated.headers.get("x-request-id")).toMatch(/.{8,}/);
  });

  it("answers unknown routes with 404 in the error shape", async () => {
    const body = await expectErrorShape(await call("/v1/nope"), 404, "NOT_FOUND");
    expect(body.error).toContain("/v1/nope");
  });

  it("serves an OpenAPI 3.1 document and the reference page that renders it", async () => {
    const res = await call("/openapi.json");
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/ingest", "/v1/ingest/batch", "/v1/admin/contacts"]),
    );
    const health = (doc.paths["/v1/health"] as { get: { security: unknown[] } }).get;
    expect(health.security).toEqual([{}, { apiKey: ["read"] }]);
    const page = await call("/docs");
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain('<script src="/scalar/api-reference.js">');
  });
});
