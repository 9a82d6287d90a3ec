import { describe, expect, it } from "vitest";
import { assertConforms, documentedSchema, documentProblems } from "./conformance";
import { adminGet, adminPost, unique } from "./helpers";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("response conformance (run by call() on every request of the suite)", () => {
  it("finds each route's documented schema, path parameters included", () => {
    expect(documentedSchema("GET", "/v1/admin/contacts", 200)).toBeDefined();
    expect(documentedSchema("GET", "/v1/admin/contacts/user_1", 200)).toBeDefined();
    expect(documentedSchema("POST", "/v1/ingest", 202)).toBeDefined();
    expect(documentedSchema("POST", "/v1/ingest", 400)).toBeDefined();
    expect(documentedSchema("GET", "/v1/admin/nothing-here", 200)).toBeUndefined();
  });

  it("refuses a body with a wrong type, a missing field or an undocumented field", async () => {
    const contact = {
      id: "c1",
      externalId: "u1",
      email: null,
      properties: {},
      unsubscribedAt: null,
      firstSeenAt: null,
      lastSeenAt: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      updatedAt: "2026-01-01T00:00:00.000Z",
      importJobId: null,
      emailChanges: [],
      aliases: [],
      merges: [],
    };
    const path = "/v1/admin/contacts/u1";
    await expect(assertConforms("GET", path, json(contact))).resolves.toBeUndefined();
    await expect(assertConforms("GET", path, json({ ...contact, email: 5 }))).rejects.toThrow(/documented schema/);
    const { createdAt: _, ...missing } = contact;
    await expect(assertConforms("GET", path, json(missing))).rejects.toThrow(/documented schema/);
    await expect(assertConforms("GET", path, json({ ...contact, suppressedAt: null }))).rejects.toThrow(
      /undocumented field \$\.suppressedAt/,
    );
  });

  it("refuses a status the operation doesn't document, whatever its body", async () => {
    const error = { error: "x", code: "CONFLICT", requestId: "r" };
    await expect(assertConforms("GET", "/v1/admin/metrics/overview", json(error, 409))).rejects.toThrow(
      /409, a status GET \/v1\/admin\/metrics\/overview doesn't document/,
    );
    await expect(assertConforms("POST", "/v1/ingest", new Response("teapot", { status: 418 }))).rejects.toThrow(
      /418, a status/,
    );
    await expect(assertConforms("POST", "/v1/ingest", json(error, 401))).resolves.toBeUndefined();
  });

  it("checks the body against /openapi.json's JSON schema too, not only the zod schema", () => {
    const job = { accepted: true, eventId: 5 };
    expect(documentProblems("POST", "/v1/ingest", 202, job).join()).toMatch(/openapi\.json/);
  });

  it("checks error bodies too", async () => {
    await expect(assertConforms("POST", "/v1/ingest", json({ error: "x" }, 400))).rejects.toThrow(/documented schema/);
  });

  it("passes the real responses of a few routes", async () => {
    const userId = unique("conf");
    await adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", {
      users: [{ userId, userEmail: `${userId}@example.com` }],
      dryRun: true,
    });
    expect((await adminGet("/v1/admin/metrics/overview")).status).toBe(200);
  });
});
