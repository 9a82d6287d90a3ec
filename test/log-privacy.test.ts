import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { errorFields } from "../src/lib/log";
import { adminAuth, call, ingestAuth, unique } from "./helpers";

/** Everything the Worker wrote to the console while a test ran, one string per call. */
let spies: MockInstance[] = [];
const lines = () => spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(" ")));

beforeEach(() => {
  spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation(() => {}),
  );
});
afterEach(() => {
  for (const spy of spies) spy.mockRestore();
});

describe("logs carry ids, codes and counts, never personal data", () => {
  it("a failed query logs its SQLite error, not the bound address or properties", async () => {
    const userId = unique("logfault");
    const address = `${userId}@example.com`;
    await env.DB.exec(
      `CREATE TRIGGER fault_${userId} BEFORE INSERT ON events WHEN NEW.user_id = '${userId}' BEGIN SELECT RAISE(ABORT, 'injected fault for ''${address}'''); END`,
    );
    try {
      const res = await call("/v1/ingest", {
        method: "POST",
        headers: ingestAuth(),
        json: { event: "signed_up", userId, userEmail: address, properties: { secretPlan: "ultra-private" } },
      });
      expect(res.status).toBe(500);
    } finally {
      await env.DB.exec(`DROP TRIGGER fault_${userId}`);
    }
    const logged = lines();
    const failure = logged.find((line) => line.includes("unhandled error"));
    expect(failure).toBeDefined();
    // What is left says what failed: the SQLite code and the message with its literal removed.
    expect(JSON.parse(failure!)).toMatchObject({ errorCode: "SQLITE_CONSTRAINT" });
    expect(failure).toContain("injected fault");
    for (const line of logged) {
      expect(line).not.toContain(address);
      expect(line).not.toContain(userId);
      expect(line).not.toContain("ultra-private");
      expect(line).not.toContain("params:");
    }
  });

  it("a request whose path holds an address logs the route pattern, not the path", async () => {
    const address = `${unique("pathy")}@example.com`;
    for (const path of [
      `/v1/admin/contacts/${encodeURIComponent(address)}`,
      `/v1/admin/contacts/${address}`,
      `/v1/admin/contacts/${encodeURIComponent(address)}/preferences`,
      `/v1/no-such-route/${encodeURIComponent(address)}`,
    ]) {
      await call(path, { headers: adminAuth() });
    }
    const logged = lines();
    const requests = logged.filter((line) => line.includes('"request"'));
    expect(requests.length).toBe(4);
    expect(requests.map((line) => JSON.parse(line).route)).toContain("/v1/admin/contacts/:idOrExternalId/preferences");
    expect(requests.map((line) => JSON.parse(line).route)).toContain("/v1/admin/contacts/:idOrExternalId");
    for (const line of logged) {
      expect(line).not.toContain(address);
      expect(line).not.toContain(encodeURIComponent(address));
    }
  });

  it("errorFields keeps an error's class and code and drops quoted literals, addresses and params", () => {
    const cause = new Error(
      "D1_ERROR: UNIQUE constraint failed: contacts.email ('ada@example.com'): SQLITE_CONSTRAINT",
    );
    const drizzle = Object.assign(
      new Error('Failed query: insert into contacts values (?, ?)\nparams: ada@example.com,{"plan":"pro"}'),
      { cause },
    );
    const fields = errorFields(drizzle);
    const text = JSON.stringify(fields);
    expect(text).not.toContain("ada@example.com");
    expect(text).not.toContain("pro");
    expect(text).not.toContain("insert into");
    expect(fields).toMatchObject({ errorClass: "Error", errorCode: "SQLITE_CONSTRAINT" });
    expect(fields.error).toContain("UNIQUE constraint failed: contacts.email");
    const plain = errorFields(new Error(`contact bob@example.org not found\nsecond line "quoted"`));
    expect(JSON.stringify(plain)).not.toContain("bob@example.org");
    expect(JSON.stringify(plain)).not.toContain("quoted");
  });
});
