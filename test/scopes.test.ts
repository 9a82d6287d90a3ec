import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { API_KEY_SCOPES, type ApiKeyScope } from "../src/db/vocabulary";
import { adminAuth, call, expectErrorShape, unique } from "./helpers";

type Operation = { security?: Array<Record<string, string[]>> };
type OpenApi = { paths: Record<string, Record<string, Operation>> };

/** Which scopes a key must hold for an operation that declares `needed` (the documented rule). */
const ALLOWED: Record<ApiKeyScope, ApiKeyScope[]> = {
  ingest: ["ingest", "admin"],
  read: ["read", "operate", "admin"],
  operate: ["operate", "admin"],
  admin: ["admin"],
};

/**
 * Every operation the OpenAPI document gives a scope to, with a placeholder for each path
 * parameter: a route added later (or merged from another branch) is in the table the moment it is
 * registered.
 */
async function scopedOperations() {
  const doc = (await (await call("/openapi.json")).json()) as OpenApi;
  return Object.entries(doc.paths).flatMap(([template, ops]) =>
    Object.entries(ops).flatMap(([method, op]) => {
      const scopes = (op.security ?? []).flatMap((requirement) => requirement.apiKey ?? []);
      return scopes.length === 0 || template === "/v1/health"
        ? []
        : [{ method: method.toUpperCase(), template, scopes, path: template.replace(/\{[^}]+\}/g, "scope-probe") }];
    }),
  );
}

const keys = {} as Record<ApiKeyScope, string>;

beforeAll(async () => {
  for (const scope of API_KEY_SCOPES) {
    const res = await call("/v1/admin/api-keys", {
      method: "POST",
      headers: adminAuth(),
      json: { name: unique(`table-${scope}`), scopes: [scope] },
    });
    expect(res.status).toBe(201);
    keys[scope] = ((await res.json()) as { key: string }).key;
  }
});

describe("scopes: every operation × every scope", () => {
  it("each admin and ingest operation declares exactly one scope", async () => {
    const ops = await scopedOperations();
    expect(ops.length).toBeGreaterThanOrEqual(35);
    for (const op of ops) {
      expect(op.scopes, `${op.method} ${op.template}`).toHaveLength(1);
      expect(API_KEY_SCOPES, `${op.method} ${op.template}`).toContain(op.scopes[0]);
    }
    const keyed = (template: string) =>
      template.startsWith("/v1/admin/") || template.startsWith("/v1/ingest") || template === "/v1/emails";
    const admin = ops.filter((op) => keyed(op.template));
    expect(admin).toHaveLength(ops.length);
  });

  it.each(API_KEY_SCOPES)("a key with only `%s` gets 403 naming the scope exactly where it lacks it", async (held) => {
    for (const op of await scopedOperations()) {
      const needed = op.scopes[0] as ApiKeyScope;
      const res = await call(op.path, {
        method: op.method,
        headers: { authorization: `Bearer ${keys[held]}` },
        json: op.method === "GET" || op.method === "DELETE" ? undefined : {},
      });
      const label = `${held} key on ${op.method} ${op.template} (needs ${needed})`;
      if (ALLOWED[needed].includes(held)) {
        expect([401, 403], `${label}: ${res.status}`).not.toContain(res.status);
        await res.body?.cancel();
      } else {
        const body = await expectErrorShape(res, 403, "FORBIDDEN").catch((e: Error) => {
          throw new Error(`${label}: ${e.message}`);
        });
        expect(body.error, label).toBe(`This key lacks the \`${needed}\` scope this operation needs`);
      }
    }
  });

  it("the bootstrap keys are `admin` (ADMIN_API_KEY) and `ingest` (INGEST_API_KEY)", async () => {
    const metrics = (key: string) =>
      call("/v1/admin/metrics/overview", { headers: { authorization: `Bearer ${key}` } });
    expect((await metrics(env.ADMIN_API_KEY)).status).toBe(200);
    await expectErrorShape(await metrics(env.INGEST_API_KEY), 403, "FORBIDDEN");
    const ingest = (key: string) =>
      call("/v1/ingest", {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        json: { event: "scoped", userId: unique("u") },
      });
    expect((await ingest(env.INGEST_API_KEY)).status).toBe(202);
    expect((await ingest(env.ADMIN_API_KEY)).status).toBe(202);
    expect((await ingest(keys.ingest)).status).toBe(202);
    await expectErrorShape(await ingest(keys.operate), 403, "FORBIDDEN");
  });

  it("401 stays for no key and a bad key, on every scoped operation", async () => {
    for (const op of await scopedOperations()) {
      for (const headers of [{}, { authorization: `Bearer ${keys.admin}x` }] as Array<Record<string, string>>) {
        const res = await call(op.path, {
          method: op.method,
          headers,
          json: op.method === "GET" || op.method === "DELETE" ? undefined : {},
        });
        await expectErrorShape(res, 401, "UNAUTHORIZED").catch((e: Error) => {
          throw new Error(`${op.method} ${op.template}: ${e.message}`);
        });
      }
    }
  });
});
