import { describe, expect, it } from "vitest";
import { call, expectErrorShape } from "./helpers";

type OpenApi = { paths: Record<string, Record<string, unknown>> };

/**
 * Every admin route in the OpenAPI document, with a placeholder for each path parameter: a new
 * route is covered the moment it is registered, so none can forget auth.
 */
async function adminRoutes(): Promise<Array<{ method: string; path: string }>> {
  const doc = (await (await call("/openapi.json")).json()) as OpenApi;
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/v1/admin/"))
    .flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "some-id") })),
    );
}

describe("admin auth", () => {
  it("covers a non-trivial route list", async () => {
    expect((await adminRoutes()).length).toBeGreaterThanOrEqual(4);
  });

  it.each([
    ["no Authorization header", {}],
    ["a wrong key", { authorization: "Bearer wrong-key" }],
    ["a made-up stored key", { authorization: `Bearer hsk_${"A".repeat(43)}` }],
    ["the admin key without the Bearer scheme", { authorization: "test-admin-key" }],
    ["an empty bearer token", { authorization: "Bearer " }],
  ])("refuses every admin route with %s", async (_label, headers: Record<string, string>) => {
    for (const { method, path } of await adminRoutes()) {
      const res = await call(path, { method, headers, json: method === "GET" || method === "DELETE" ? undefined : {} });
      const body = await expectErrorShape(res, 401, "UNAUTHORIZED").catch((e: Error) => {
        throw new Error(`${method} ${path}: ${e.message}`);
      });
      expect(body.error).toBe("Missing or invalid API key");
    }
  });
});
