import { describe, expect, it } from "vitest";
import { adminGet, call, expectErrorShape, ingestAuth, unique } from "./helpers";

type Page<K extends string> = { [key in K]: Array<Record<string, unknown>> } & { nextCursor: string | null };

const ingest = (json: unknown) => call("/v1/ingest", { method: "POST", headers: ingestAuth(), json });

describe("admin reads", () => {
  it("searches contacts by email or externalId, with LIKE wildcards matching literally", async () => {
    const tag = unique("srch");
    await ingest({ event: "e", userId: `${tag}_100%_sure`, userEmail: `a_${tag}@example.com` });
    await ingest({ event: "e", userId: `${tag}_100x_sure` });
    await ingest({ event: "e", userId: `${tag}_plain`, userEmail: `b${tag}@corp.example` });

    const byPercent = (await (
      await adminGet(`/v1/admin/contacts?search=${encodeURIComponent(`${tag}_100%`)}`)
    ).json()) as Page<"contacts">;
    expect(byPercent.contacts.map((c) => c.externalId)).toEqual([`${tag}_100%_sure`]);

    const byUnderscore = (await (
      await adminGet(`/v1/admin/contacts?search=${encodeURIComponent(`a_${tag}`)}`)
    ).json()) as Page<"contacts">;
    expect(byUnderscore.contacts.map((c) => c.email)).toEqual([`a_${tag}@example.com`]);

    const byDomain = (await (
      await adminGet(`/v1/admin/contacts?search=${encodeURIComponent(`${tag}@corp`)}`)
    ).json()) as Page<"contacts">;
    expect(byDomain.contacts.map((c) => c.externalId)).toEqual([`${tag}_plain`]);

    const sqlish = await adminGet(`/v1/admin/contacts?search=${encodeURIComponent("' OR 1=1 --")}`);
    expect(((await sqlish.json()) as Page<"contacts">).contacts).toEqual([]);
  });

  it("pages contacts with a cursor until the end", async () => {
    const tag = unique("page");
    for (let i = 0; i < 5; i++) await ingest({ event: "e", userId: `${tag}_${i}` });
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/admin/contacts?search=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await (await adminGet(query)).json()) as Page<"contacts">;
      seen.push(...page.contacts.map((c) => c.externalId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${tag}_${i}`));
  });

  it("gets a contact by id or externalId, 404 otherwise", async () => {
    const userId = unique("get");
    await ingest({ event: "e", userId });
    const byExternal = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { id: string };
    const byId = (await (await adminGet(`/v1/admin/contacts/${byExternal.id}`)).json()) as { externalId: string };
    expect(byId.externalId).toBe(userId);
    await expectErrorShape(await adminGet(`/v1/admin/contacts/${unique("nobody")}`), 404, "NOT_FOUND");
  });

  it("filters events by name, user and occurrence range, newest first", async () => {
    const userId = unique("ev");
    await ingest({ event: "user:signed_up", userId, timestamp: "2025-01-01T00:00:00Z" });
    await ingest({ event: "user:activated", userId, timestamp: "2025-01-05T00:00:00Z" });
    await ingest({ event: "user:signed_up", userId: `${userId}_other`, timestamp: "2025-01-03T00:00:00Z" });

    const mine = (await (await adminGet(`/v1/admin/events?userId=${userId}`)).json()) as Page<"events">;
    expect(mine.events.map((e) => e.event)).toEqual(["user:activated", "user:signed_up"]);

    const ranged = (await (
      await adminGet(`/v1/admin/events?userId=${userId}&from=2025-01-02T00:00:00Z&to=2025-01-31T00:00:00Z`)
    ).json()) as Page<"events">;
    expect(ranged.events.map((e) => e.event)).toEqual(["user:activated"]);

    const named = (await (
      await adminGet(`/v1/admin/events?event=user:signed_up&userId=${userId}`)
    ).json()) as Page<"events">;
    expect(named.events).toHaveLength(1);
  });

  it("treats SQL metacharacters in filters as plain values", async () => {
    const userId = unique("meta");
    await ingest({ event: "a'b", userId: `${userId}"; DROP TABLE events; --` });
    const hostile = (await (
      await adminGet(`/v1/admin/events?event=${encodeURIComponent("' OR 1=1 --")}`)
    ).json()) as Page<"events">;
    expect(hostile.events).toEqual([]);
    const exact = (await (
      await adminGet(`/v1/admin/events?userId=${encodeURIComponent(`${userId}"; DROP TABLE events; --`)}`)
    ).json()) as Page<"events">;
    expect(exact.events.map((e) => e.event)).toEqual(["a'b"]);
    const emails = (await (
      await adminGet(`/v1/admin/emails?to=${encodeURIComponent("x' OR '1'='1")}`)
    ).json()) as Page<"emails">;
    expect(emails.emails).toEqual([]);
  });

  it("answers bad query parameters and unknown event ids in the error shape", async () => {
    expect(
      (await expectErrorShape(await adminGet("/v1/admin/events?from=yesterday"), 400, "VALIDATION_ERROR")).error,
    ).toContain("from");
    expect((await expectErrorShape(await adminGet("/v1/admin/contacts?limit=0"), 400)).error).toContain("limit");
    expect((await expectErrorShape(await adminGet("/v1/admin/contacts?limit=abc"), 400)).error).toContain("limit");
    await expectErrorShape(await adminGet(`/v1/admin/events/${crypto.randomUUID()}`), 404, "NOT_FOUND");
  });
});
