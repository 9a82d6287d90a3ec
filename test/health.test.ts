import { describe, expect, it } from "vitest";
import { call, expectErrorShape } from "./helpers";

describe("front door", () => {
  it("reports the database reachable and migrations applied", async () => {
    const res = await call("/v1/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      database: string;
      migrations: { applied: number; missingTables: string[] };
    };
    expect(body.status).toBe("ok");
    expect(body.database).toBe("reachable");
    expect(body.migrations.applied).toBeGreaterThan(0);
    expect(body.migrations.missingTables).toEqual([]);
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

  it("serves an OpenAPI 3.1 document and a readable reference page", async () => {
    const res = await call("/openapi.json");
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/ingest", "/v1/ingest/batch", "/v1/admin/contacts"]),
    );
    const page = await call("/docs");
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("/v1/ingest/batch");
  });
});
