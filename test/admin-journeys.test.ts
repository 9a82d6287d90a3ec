import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../src/lib/ids";
import { adminAuth, adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

type Journey = { key: string; enabled: boolean; enrollments: { active: number; waiting: number } };
const signUp = async (userId: string) =>
  (await (
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "user:signed_up", userId } })
  ).json()) as {
    journeys: Array<{ enrollmentId: string }>;
  };

describe("admin journeys", () => {
  it("lists every journey with its enrollment counts by status", async () => {
    const before = ((await (await adminGet("/v1/admin/journeys")).json()) as { journeys: Journey[] }).journeys;
    expect(before.map((j) => j.key)).toEqual(expect.arrayContaining(["activation-welcome", "cart-recovery"]));
    const activeBefore = before.find((j) => j.key === "activation-welcome")!.enrollments.active;
    await signUp(unique("count"));
    const after = (await (await adminGet("/v1/admin/journeys/activation-welcome")).json()) as Journey;
    expect(after.enrollments.active + after.enrollments.waiting).toBeGreaterThanOrEqual(activeBefore + 1);
    expect(after).toMatchObject({ key: "activation-welcome", enabled: true });
  });

  it("exits an enrollment by hand; a second exit is a conflict", async () => {
    const { journeys } = await signUp(unique("manual"));
    const id = journeys[0]!.enrollmentId;
    const del = () =>
      call(`/v1/admin/journeys/activation-welcome/enrollments/${id}`, { method: "DELETE", headers: adminAuth() });
    const res = await del();
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, status: "exited", exitReason: "manual" });
    expect((await expectErrorShape(await del(), 409, "CONFLICT")).error).toContain("exited");
    const listed = (await (
      await adminGet("/v1/admin/journeys/activation-welcome/enrollments?status=exited")
    ).json()) as { enrollments: Array<{ id: string }> };
    expect(listed.enrollments.map((e) => e.id)).toContain(id);
  });

  it("answers unknown journeys and enrollments with 404 and bad bodies with 400", async () => {
    await expectErrorShape(await adminGet("/v1/admin/journeys/nope"), 404, "NOT_FOUND");
    await expectErrorShape(await adminGet("/v1/admin/journeys/nope/enrollments"), 404);
    await expectErrorShape(
      await call("/v1/admin/journeys/activation-welcome/enrollments/nope", { method: "DELETE", headers: adminAuth() }),
      404,
    );
    await expectErrorShape(
      await call("/v1/admin/journeys/nope", { method: "PATCH", headers: adminAuth(), json: { enabled: false } }),
      404,
    );
    const bad = await call("/v1/admin/journeys/activation-welcome", {
      method: "PATCH",
      headers: adminAuth(),
      json: { enabled: "no" },
    });
    expect((await expectErrorShape(bad, 400, "VALIDATION_ERROR")).error).toContain("enabled");
    await expectErrorShape(await adminGet("/v1/admin/journeys/activation-welcome/enrollments?status=sleeping"), 400);
  });
});

describe("admin emails and preferences", () => {
  it("filters emails by status, template, recipient and time", async () => {
    const userId = unique("mail");
    const address = `${userId}@example.com`;
    const insert = (status: string, template: string, createdAt: number) =>
      env.DB.prepare(
        "INSERT INTO emails (id, user_id, to_address, template_key, props, status, created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?, ?)",
      )
        .bind(newId(), userId, address, template, status, createdAt, createdAt)
        .run();
    await insert("failed", "welcome", Date.parse("2025-01-02T00:00:00Z"));
    await insert("sent", "welcome", Date.parse("2025-01-03T00:00:00Z"));
    await insert("failed", "activation-tips", Date.parse("2025-02-01T00:00:00Z"));
    const list = async (query: string) =>
      (
        (await (
          await adminGet(`/v1/admin/emails?to=${encodeURIComponent(address.toUpperCase())}&${query}`)
        ).json()) as { emails: Array<{ templateKey: string; status: string }> }
      ).emails;
    expect(await list("")).toHaveLength(3);
    expect((await list("status=failed")).map((e) => e.templateKey)).toEqual(["activation-tips", "welcome"]);
    expect(await list("templateKey=welcome&status=failed")).toHaveLength(1);
    expect(await list("from=2025-01-02T12:00:00Z&until=2025-01-31T00:00:00Z")).toEqual([
      expect.objectContaining({ status: "sent" }),
    ]);
    await expectErrorShape(await adminGet("/v1/admin/emails?status=lost"), 400, "VALIDATION_ERROR");
    await expectErrorShape(await adminGet(`/v1/admin/emails/${crypto.randomUUID()}`), 404, "NOT_FOUND");
  });

  it("reads and updates preferences; suppression needs an address", async () => {
    const userId = unique("prefs");
    await call("/v1/ingest", {
      method: "POST",
      headers: ingestAuth(),
      json: { event: "profile", userId, userEmail: `${userId}@example.com` },
    });
    const put = (json: unknown, who = userId) =>
      call(`/v1/admin/contacts/${who}/preferences`, { method: "PUT", headers: adminAuth(), json });
    expect(await (await put({ suppressed: true })).json()).toMatchObject({
      unsubscribed: false,
      suppressed: true,
      suppressionReason: "admin",
    });
    // Lifts the admin suppression; unsubscribing then suppresses the address for its own reason.
    expect(await (await put({ suppressed: false, unsubscribed: true })).json()).toMatchObject({
      unsubscribed: true,
      suppressed: true,
      suppressionReason: "unsubscribed",
    });
    await expectErrorShape(await put({ unsubscribed: "yes" }), 400, "VALIDATION_ERROR");
    await expectErrorShape(await put({ unknown: true }), 400, "VALIDATION_ERROR");
    await expectErrorShape(await put({ unsubscribed: true }, unique("ghost")), 404, "NOT_FOUND");

    const noEmail = unique("noemail");
    await call("/v1/ingest", { method: "POST", headers: ingestAuth(), json: { event: "profile", userId: noEmail } });
    await expectErrorShape(await put({ suppressed: true }, noEmail), 422, "UNPROCESSABLE");
  });
});
