import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { AUDIT_ARCHIVE_PREFIX, archiveOldAuditEntries } from "../src/services/audit-archive";

const DAY = 86_400_000;

async function insertEntry(id: string, at: number) {
  await env.DB.prepare(
    `INSERT INTO audit_log (id, at, key_id, key_name, method, route, action, target_ids, counts, outcome, status, request_id)
     VALUES (?, ?, 'k1', 'ci', 'POST', '/v1/admin/events/replay', 'replayEvents', '[]', '{"replayed":2}', 'ok', 200, 'r1')`,
  )
    .bind(id, at)
    .run();
}

describe("audit log retention", () => {
  it("moves entries past AUDIT_RETENTION_DAYS to R2 as NDJSON by day, then deletes exactly those", async () => {
    const deps = buildDeps(env).retention;
    expect(deps.auditRetentionDays).toBe(Number(env.AUDIT_RETENTION_DAYS));
    const now = new Date("2030-06-01T12:00:00Z");
    const old = now.getTime() - (deps.auditRetentionDays + 3) * DAY;
    const ids = ["00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002"];
    await insertEntry(ids[0]!, old);
    await insertEntry(ids[1]!, old + 1000);
    const recent = "00000000-0000-7000-8000-000000000003";
    await insertEntry(recent, now.getTime() - DAY);

    expect(await archiveOldAuditEntries(deps, now)).toEqual({ archivedAuditEntries: 2 });
    const day = new Date(old).toISOString().slice(0, 10);
    const listed = await env.EVENT_ARCHIVE.list({ prefix: `${AUDIT_ARCHIVE_PREFIX}${day}/` });
    expect(listed.objects.map((o) => o.key)).toEqual([`${AUDIT_ARCHIVE_PREFIX}${day}/${ids[0]}.ndjson`]);
    const lines = (await (await env.EVENT_ARCHIVE.get(listed.objects[0]!.key))!.text()).trim().split("\n");
    expect(lines.map((line) => JSON.parse(line).id)).toEqual(ids);
    expect(JSON.parse(lines[0]!)).toMatchObject({ action: "replayEvents", counts: { replayed: 2 }, outcome: "ok" });
    const left = await env.DB.prepare("SELECT id FROM audit_log WHERE id IN (?, ?, ?)")
      .bind(...ids, recent)
      .all();
    expect(left.results.map((r) => r.id)).toEqual([recent]);
    expect(await archiveOldAuditEntries(deps, now)).toEqual({ archivedAuditEntries: 0 });
  });
});
