import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deadLetterQueue, QUEUES } from "../src/lib/queues";
import { processBackfillPage } from "../src/pipeline/backfill-page";
import { createBackfillJob } from "../src/services/backfills/jobs";
import {
  type BackfillBody,
  backfill,
  drainBackfill,
  enrollmentsFor,
  getBackfill,
  idleDeps,
  importCsv,
} from "./backfill-helpers";
import { adminAuth, adminGet, adminPost, call, expectErrorShape, unique } from "./helpers";
import { deliver } from "./queues";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const jobCount = async () =>
  (await env.DB.prepare("SELECT count(*) AS n FROM backfill_jobs").first<{ n: number }>())!.n;

async function importN(count: number, plan = (i: number) => (i % 2 ? "pro" : "free")) {
  const t = unique("bfr");
  const rows = Array.from({ length: count }, (_, i) => `${t}_${i},${t}_${i}@example.com,${plan(i)}`);
  return importCsv(`externalId,email,plan\n${rows.join("\n")}\n`);
}

describe("backfill dry runs", () => {
  it("answers a small segment at once with what would happen, writing nothing", async () => {
    const importJobId = await importN(40);
    const before = await jobCount();
    const res = await backfill("activation-welcome", {
      filter: { importJobId, where: [{ property: "plan", op: "eq", value: "pro" }] },
      dryRun: true,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { matched: number; enrolled: number; skipped: Record<string, number> };
    expect(body).toMatchObject({ dryRun: true, matched: 20, enrolled: 20 });
    expect(body.skipped.already_entered_once).toBe(0);
    expect(await jobCount()).toBe(before);
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(0);
  });

  it("runs a large segment as a dry-run job that enrolls nobody", async () => {
    const importJobId = await importN(1200, () => "pro");
    const res = await backfill("activation-welcome", { filter: { importJobId }, dryRun: true });
    expect(res.status).toBe(202);
    const job = (await res.json()) as BackfillBody;
    expect(job).toMatchObject({ dryRun: true, status: "pending" });
    const done = await drainBackfill(job.id);
    expect(done).toMatchObject({ status: "completed", dryRun: true, matched: 1200, enrolled: 1200 });
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(0);
  }, 30_000);
});

describe("backfill jobs through the queue", () => {
  it("walks pages on the real queue, enrolls, and starts the workflows", async () => {
    const importJobId = await importN(30);
    const res = await backfill("activation-welcome", { filter: { importJobId }, pageSize: 15 });
    const { id } = (await res.json()) as BackfillBody;
    let job = await getBackfill(id);
    for (let i = 0; i < 100 && job.status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      job = await getBackfill(id);
    }
    expect(job).toMatchObject({ status: "completed", matched: 30, enrolled: 30 });
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(30);
    // The journey-start queue started each enrollment's workflow: its first step sends the welcome email.
    const welcomed = () =>
      env.DB.prepare(
        "SELECT count(DISTINCT m.user_id) AS n FROM emails m JOIN contacts c ON c.external_id = m.user_id WHERE c.import_job_id = ?",
      )
        .bind(importJobId)
        .first<{ n: number }>();
    let sent = 0;
    for (let i = 0; i < 100 && sent < 30; i++) {
      sent = (await welcomed())!.n;
      if (sent < 30) await new Promise((r) => setTimeout(r, 200));
    }
    expect(sent).toBe(30);
    const listed = (await (await adminGet("/v1/admin/journeys/backfills?journey=activation-welcome")).json()) as {
      backfills: BackfillBody[];
    };
    expect(listed.backfills.map((b) => b.id)).toContain(id);
  }, 30_000);

  it("cancels a running job: an in-flight page enrolls nothing more; a second cancel is 409", async () => {
    const importJobId = await importN(20);
    const res = await backfill("activation-welcome", { filter: { importJobId }, pageSize: 10 });
    const { id } = (await res.json()) as BackfillBody;
    const cancel = await adminPost(`/v1/admin/journeys/backfills/${id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as BackfillBody).status).toBe("cancelled");
    expect(await processBackfillPage(idleDeps(), { jobId: id, cursor: "" })).toBe("ended");
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(0);
    await expectErrorShape(await adminPost(`/v1/admin/journeys/backfills/${id}/cancel`), 409, "CONFLICT");
  });
});

describe("backfill input errors", () => {
  it("answers the one error shape, and creates no job", async () => {
    const before = await jobCount();
    const importJobId = await importN(2);
    const bad = async (journey: string, json: unknown, status: number, mention?: string) => {
      const body = await expectErrorShape(await backfill(journey, json), status);
      if (mention) expect(body.error).toContain(mention);
    };
    await bad("no-such-journey", { filter: {} }, 404);
    await bad("activation-welcome", { filter: { importJobId: "no-such-import" } }, 404);
    await bad(
      "activation-welcome",
      { filter: { where: [{ property: "plan", op: "like", value: "x" }] } },
      400,
      "filter.where.0.op",
    );
    await bad(
      "activation-welcome",
      { filter: { where: [{ property: "plan", op: "eq" }] } },
      400,
      "filter.where.0.value",
    );
    await bad("activation-welcome", { filter: { where: [{ property: 'a"b', op: "exists" }] } }, 400, "property");
    await bad("activation-welcome", { filter: { createdFrom: "yesterday" } }, 400, "filter.createdFrom");
    await bad("activation-welcome", { filter: {}, pageSize: 5 }, 400, "pageSize");
    await bad("activation-welcome", { filter: {}, limit: 0 }, 400, "limit");
    await bad("activation-welcome", { filter: {}, everyone: true }, 400);
    await bad("activation-welcome", {}, 400, "filter");
    const malformed = await call("/v1/admin/journeys/activation-welcome/backfill", {
      method: "POST",
      headers: { ...adminAuth(), "content-type": "application/json" },
      body: "{",
    });
    await expectErrorShape(malformed, 400);
    expect(await jobCount()).toBe(before);
    expect(importJobId).toBeTruthy();
    await expectErrorShape(await adminGet("/v1/admin/journeys/backfills/nope"), 404, "NOT_FOUND");
    await expectErrorShape(await adminPost("/v1/admin/journeys/backfills/nope/cancel"), 404, "NOT_FOUND");
  });
});

describe("segment-filter property names", () => {
  it("refuses control characters (NUL included) with a 400 naming the field, for previews and jobs alike", async () => {
    const before = await jobCount();
    for (const property of ["pl\u0000an", "plan\u0000", "a.b\nc", "tab\there", "del\u007f", "c1\u0085"]) {
      for (const dryRun of [true, false]) {
        const body = await expectErrorShape(
          await backfill("activation-welcome", { filter: { where: [{ property, op: "exists" }] }, dryRun }),
          400,
          "VALIDATION_ERROR",
        );
        expect(body.error).toContain("filter.where.0.property");
        expect(body.error).toContain("control characters");
      }
    }
    expect(await jobCount()).toBe(before);
  });
});

describe("batch enrollment without userEmail", () => {
  const enroll = (json: unknown) => adminPost("/v1/admin/journeys/activation-welcome/enroll/batch", json);

  it("uses the address on file, and reports no_email for a user with none anywhere", async () => {
    const known = unique("known");
    const unknown = unique("unknown");
    await importCsv(`externalId,email\n${known},${known}@example.com\n`);
    const dry = (await (await enroll({ users: [{ userId: known }, { userId: unknown }], dryRun: true })).json()) as {
      results: Array<{ enrolled: boolean; reason?: string }>;
    };
    expect(dry.results.map((r) => r.reason ?? "enrolled")).toEqual(["enrolled", "no_email"]);
    const res = await enroll({ users: [{ userId: known }, { userId: unknown }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { enrolled: number; results: Array<{ enrolled: boolean; reason?: string }> };
    expect(body.enrolled).toBe(1);
    expect(body.results.map((r) => r.reason ?? "enrolled")).toEqual(["enrolled", "no_email"]);
    const rows = await env.DB.prepare("SELECT user_id FROM enrollments WHERE user_id IN (?, ?)")
      .bind(known, unknown)
      .all();
    expect(rows.results).toEqual([{ user_id: known }]);
  });
});

describe("backfill queue consumer", () => {
  it("acks a malformed message, and settles a dead-lettered page: the job fails and is listed", async () => {
    const junk = await deliver(QUEUES.backfills.name, [{ id: "junk", body: { nope: true } }]);
    expect(junk.explicitAcks).toEqual(["junk"]);

    const importJobId = await importN(3);
    const job = await createBackfillJob(idleDeps(), {
      journeyKey: "activation-welcome",
      filter: { importJobId },
      pageSize: 100,
      dryRun: false,
    });
    const dead = await deliver(deadLetterQueue(QUEUES.backfills.name), [
      { id: `dl_${job.id}`, attempts: 6, body: { jobId: job.id, cursor: "" } },
    ]);
    expect(dead.explicitAcks).toEqual([`dl_${job.id}`]);
    const failed = await getBackfill(job.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain("dead-lettered");
    const listed = (await (await adminGet("/v1/admin/dead-letters?queue=hogsend-backfills")).json()) as {
      deadLetters: Array<{ subject: string }>;
    };
    expect(listed.deadLetters.map((d) => d.subject)).toContain(`backfill:${job.id}`);
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(0);
  });
});
