import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { scrubArchive } from "../src/services/archive-scrub";
import { ARCHIVE_PREFIX } from "../src/services/event-archive";
import { archiveOldEvents } from "../src/services/retention";
import { adminAuth, adminPost, call, ingestAuth, unique } from "./helpers";
import { runCron } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const DAY_MS = 86_400_000;
const RETENTION_DAYS = Number(env.EVENT_RETENTION_DAYS);
const daysAgo = (days: number, plusMs = 0) => new Date(Date.now() - days * DAY_MS + plusMs);

async function ingestAt(userId: string, at: Date) {
  const res = await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "page:viewed", userId, userEmail: `${userId}@example.com`, timestamp: at.toISOString() },
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { eventId: string }).eventId;
}

const erase = (id: string) => call(`/v1/admin/contacts/${id}`, { method: "DELETE", headers: adminAuth() });

/** Every archived line, with the key of the object it is in. */
async function archivedLines(): Promise<Array<{ key: string; id: string; userId: string }>> {
  const lines = [];
  let cursor: string | undefined;
  do {
    const page = await env.EVENT_ARCHIVE.list({ prefix: ARCHIVE_PREFIX, cursor });
    for (const object of page.objects) {
      const text = await (await env.EVENT_ARCHIVE.get(object.key))!.text();
      for (const line of text.split("\n").filter(Boolean)) lines.push({ key: object.key, ...JSON.parse(line) });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return lines;
}

type Replayed = { results: Array<{ eventId: string }>; archive?: { events: number } };
const replayPreview = async (filter: Record<string, string>) =>
  (await (await adminPost("/v1/admin/events/replay", { filter, dryRun: true })).json()) as Replayed;

describe("erasure reaches the R2 event archive", () => {
  it("says nothing_archived when the archive holds nothing", async () => {
    const userId = unique("arch-none");
    await ingestAt(userId, new Date());
    // First in the file: each test file starts from empty storage.
    expect((await env.EVENT_ARCHIVE.list({ prefix: ARCHIVE_PREFIX })).objects).toEqual([]);
    const res = await erase(userId);
    expect(await res.json()).toMatchObject({ complete: true, archive: "nothing_archived" });
    expect(await (await erase(userId)).json()).toMatchObject({ archive: "nothing_archived" });
  });

  it("the cron's scrub rewrites archive objects without the person; replay skips them until then", async () => {
    const [gone, kept] = [unique("arch-gone"), unique("arch-kept")];
    const shared = daysAgo(RETENTION_DAYS + 20);
    const alone = daysAgo(RETENTION_DAYS + 25);
    const goneIds = [await ingestAt(gone, shared), await ingestAt(gone, alone)];
    const keptId = await ingestAt(kept, new Date(shared.getTime() + 1000));
    await runCron();
    const before = await archivedLines();
    expect(
      before
        .filter((l) => l.userId === gone)
        .map((l) => l.id)
        .sort(),
    ).toEqual([...goneIds].sort());
    const goneKeys = new Set(before.filter((l) => l.userId === gone).map((l) => l.key));
    // One object holds both people's lines (the shared day), the other only the erased person's.
    expect(before.find((l) => l.id === keptId)!.key).toSatisfy((key: string) => goneKeys.has(key));

    const res = await erase(gone);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ complete: true, archive: "scrub_pending" });

    // Not scrubbed yet: a replay over the window finds the other person only.
    const window = { from: daysAgo(RETENTION_DAYS + 30).toISOString(), to: daysAgo(RETENTION_DAYS + 10).toISOString() };
    const pendingReplay = await replayPreview(window);
    const pendingIds = pendingReplay.results.map((r) => r.eventId);
    expect(pendingIds).toContain(keptId);
    expect(pendingIds.filter((id) => goneIds.includes(id))).toEqual([]);
    expect((await replayPreview({ ...window, userId: gone })).results).toEqual([]);

    let state = "";
    for (let run = 0; run < 20 && state !== "scrubbed"; run++) {
      await runCron();
      state = ((await (await erase(gone)).json()) as { archive: string }).archive;
    }
    expect(state).toBe("scrubbed");

    const after = await archivedLines();
    expect(after.filter((l) => l.userId === gone)).toEqual([]);
    expect(after.find((l) => l.id === keptId)).toBeDefined();
    // The object that held only the erased person's event is gone.
    const aloneKey = before.find((l) => l.id === goneIds[1])!.key;
    expect(await env.EVENT_ARCHIVE.head(aloneKey)).toBeNull();
    expect((await replayPreview(window)).results.map((r) => r.eventId)).toContain(keptId);

    // Done: the same DELETE answers the state with nothing removed; the clear id is no longer kept.
    const again = await erase(gone);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      complete: true,
      removed: { contact: 0, events: 0 },
      archive: "scrubbed",
    });
    const row = await env.DB.prepare("SELECT count(*) AS n FROM archive_erasures WHERE user_id = ?").bind(gone).first();
    expect(row).toEqual({ n: 0 });
  });

  it("is bounded per run and continues from its cursor; an erasure requested mid-pass waits for the next pass", async () => {
    const deps = buildDeps(env);
    const people = [unique("arch-a"), unique("arch-b")];
    // Five days of archive, one object each.
    for (let day = 0; day < 5; day++) for (const p of people) await ingestAt(p, daysAgo(RETENTION_DAYS + 40 + day));
    await archiveOldEvents(deps.retention);
    expect((await erase(people[0]!)).status).toBe(200);

    const first = await scrubArchive(deps.retention, new Date(), { maxObjects: 2 });
    expect(first.erasuresScrubbed).toBe(0);
    expect((await erase(people[1]!)).status).toBe(200);
    const runs = [first];
    while (runs.at(-1)!.erasuresScrubbed === 0 && runs.length < 50)
      runs.push(await scrubArchive(deps.retention, new Date(), { maxObjects: 2 }));
    // The first pass covered only the first erasure; the second person's is still pending.
    expect(runs.at(-1)!.erasuresScrubbed).toBe(1);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    const states = async () =>
      Promise.all(people.map(async (p) => ((await (await erase(p)).json()) as { archive: string }).archive));
    expect(await states()).toEqual(["scrubbed", "scrub_pending"]);
    for (let i = 0; i < 50 && (await states())[1] !== "scrubbed"; i++)
      await scrubArchive(deps.retention, new Date(), { maxObjects: 2 });
    expect(await states()).toEqual(["scrubbed", "scrubbed"]);
    expect((await archivedLines()).filter((l) => people.includes(l.userId))).toEqual([]);
  });
});
