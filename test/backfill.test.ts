import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { countRoundTrips, newRoundTripCounter } from "../src/db/round-trips";
import { processBackfillPage } from "../src/pipeline/backfill-page";
import { healStalledBackfills, MAX_BACKFILL_RECOVERIES } from "../src/scheduled/heal-backfills";
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
import { unique } from "./helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const PLANS = ["free", "pro", "team", "pro", "free"];
const proOnly = (importJobId: string) => ({
  filter: { importJobId, where: [{ property: "plan", op: "eq", value: "pro" }] },
});

/** `count` contacts of one import, plans cycling through PLANS, every one with an address. */
async function importPlans(count: number) {
  const t = unique("bf");
  const rows = Array.from({ length: count }, (_, i) => `${t}_${i},${t}_${i}@example.com,${PLANS[i % PLANS.length]}`);
  return importCsv(`externalId,email,plan\n${rows.join("\n")}\n`);
}

describe("POST /v1/admin/journeys/:key/backfill", () => {
  it("backfills exactly the plan = pro contacts of an import; the counts match D1; a rerun enrolls 0", async () => {
    const importJobId = await importPlans(2000);
    const pros = (2000 / PLANS.length) * 2;
    const res = await backfill("activation-welcome", { ...proOnly(importJobId), pageSize: 200 });
    expect(res.status).toBe(202);
    const job = (await res.json()) as BackfillBody;
    expect(job).toMatchObject({ status: "pending", dryRun: false, matched: 0, enrolled: 0 });

    // Four full pages, then one that finds nothing more.
    const done = await drainBackfill(job.id);
    expect(done).toMatchObject({ status: "completed", matched: pros, enrolled: pros, pages: 5, error: null });
    expect(Object.values(done.skipped).every((n) => n === 0)).toBe(true);
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(pros);
    const sources = await env.DB.prepare(
      "SELECT DISTINCT c.properties ->> 'plan' AS plan, e.source FROM enrollments e JOIN contacts c ON c.external_id = e.user_id WHERE c.import_job_id = ?",
    )
      .bind(importJobId)
      .all();
    expect(sources.results).toEqual([{ plan: "pro", source: "batch" }]);

    const again = (await (await backfill("activation-welcome", proOnly(importJobId))).json()) as BackfillBody;
    const rerun = await drainBackfill(again.id);
    expect(rerun).toMatchObject({ status: "completed", matched: pros, enrolled: 0 });
    expect(rerun.skipped.already_entered_once).toBe(pros);
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(pros);
  }, 60_000);

  it("reports no_email, unsubscribed and trigger_not_matched per contact, and honours limit", async () => {
    const t = unique("mix");
    const rows = [
      { externalId: `${t}_a`, email: `${t}_a@example.com`, properties: { cartValue: 20 } },
      { externalId: `${t}_b`, properties: { cartValue: 30 } },
      { externalId: `${t}_c`, email: `${t}_c@example.com`, properties: { cartValue: 0 } },
      { externalId: `${t}_d`, email: `${t}_d@example.com`, properties: { cartValue: 5 } },
      { externalId: `${t}_e`, email: `${t}_e@example.com`, properties: { cartValue: 7 } },
    ];
    const importJobId = await importCsv(rows.map((r) => JSON.stringify(r)).join("\n"), "ndjson");
    await env.DB.prepare("UPDATE contacts SET unsubscribed_at = ? WHERE external_id = ?")
      .bind(Date.now(), `${t}_d`)
      .run();
    const res = await backfill("cart-recovery", { filter: { importJobId }, limit: 4 });
    const done = await drainBackfill(((await res.json()) as BackfillBody).id);
    expect(done).toMatchObject({ matched: 4, enrolled: 1 });
    expect(done.skipped).toMatchObject({ no_email: 1, trigger_not_matched: 1, unsubscribed: 1 });
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM enrollments WHERE user_id = ?").bind(`${t}_e`).first(),
    ).toEqual({ n: 0 });
  });

  it("never enrolls a contact twice across two overlapping backfills of a once journey", async () => {
    const importJobId = await importPlans(300);
    const deps = idleDeps();
    const input = { journeyKey: "activation-welcome", filter: { importJobId }, pageSize: 40, dryRun: false };
    const a = await createBackfillJob(deps, input);
    const b = await createBackfillJob(deps, input);
    const cursors = new Map([
      [a.id, ""],
      [b.id, ""],
    ]);
    // Interleave the two jobs page by page, each page delivered twice.
    for (let i = 0; i < 20; i++) {
      for (const id of [a.id, b.id]) {
        const row = await env.DB.prepare("SELECT cursor FROM backfill_jobs WHERE id = ?")
          .bind(id)
          .first<{ cursor: string }>();
        cursors.set(id, row!.cursor);
        await processBackfillPage(deps, { jobId: id, cursor: row!.cursor });
        await processBackfillPage(deps, { jobId: id, cursor: row!.cursor });
      }
    }
    const [jobA, jobB] = [await getBackfill(a.id), await getBackfill(b.id)];
    expect([jobA.status, jobB.status]).toEqual(["completed", "completed"]);
    expect(jobA.matched).toBe(300);
    expect(jobB.matched).toBe(300);
    expect(jobA.enrolled + jobB.enrolled).toBe(300);
    expect(Number(jobA.skipped.already_entered_once) + Number(jobB.skipped.already_entered_once)).toBe(300);
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(300);
    const twice = await env.DB.prepare(
      "SELECT count(*) AS n FROM (SELECT user_id FROM enrollments WHERE journey_key = 'activation-welcome' GROUP BY user_id HAVING count(*) > 1)",
    ).first<{ n: number }>();
    expect(twice!.n).toBe(0);
  }, 30_000);

  it("keeps counts exact when a page's batch fails mid-way and is retried", async () => {
    const importJobId = await importPlans(50);
    const job = await createBackfillJob(idleDeps(), {
      journeyKey: "activation-welcome",
      filter: { importJobId },
      pageSize: 20,
      dryRun: false,
    });
    await processBackfillPage(idleDeps(), { jobId: job.id, cursor: "" });
    const { cursor } = (await env.DB.prepare("SELECT cursor FROM backfill_jobs WHERE id = ?")
      .bind(job.id)
      .first<{ cursor: string }>())!;
    // A real D1 fault inside the second page's batch, after some of its enrollments were inserted.
    const victim = (await env.DB.prepare(
      "SELECT external_id FROM contacts WHERE import_job_id = ? AND id > ? ORDER BY id LIMIT 1 OFFSET 17",
    )
      .bind(importJobId, cursor)
      .first<{ external_id: string }>())!.external_id;
    await env.DB.prepare(
      `CREATE TRIGGER bf_fault BEFORE INSERT ON enrollments WHEN NEW.user_id = '${victim}' BEGIN SELECT RAISE(ABORT, 'injected'); END`,
    ).run();
    try {
      await expect(processBackfillPage(idleDeps(), { jobId: job.id, cursor })).rejects.toThrow(/injected/);
    } finally {
      await env.DB.prepare("DROP TRIGGER bf_fault").run();
    }
    expect(await getBackfill(job.id)).toMatchObject({ matched: 20, enrolled: 20, pages: 1 });
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(20);

    const done = await drainBackfill(job.id);
    expect(done).toMatchObject({ status: "completed", matched: 50, enrolled: 50, pages: 3 });
    expect(await enrollmentsFor("activation-welcome", importJobId)).toBe(50);
  });

  it("finishes a page whose invocation died after the commit: the retry re-sends its follow-up", async () => {
    const importJobId = await importPlans(30);
    const job = await createBackfillJob(idleDeps(), {
      journeyKey: "activation-welcome",
      filter: { importJobId },
      pageSize: 20,
      dryRun: false,
    });
    expect(await processBackfillPage(idleDeps(), { jobId: job.id, cursor: "" })).toBe("continued");
    await env.DB.prepare("UPDATE backfill_pages SET follow_up_sent = 0 WHERE job_id = ?").bind(job.id).run();
    expect(await processBackfillPage(idleDeps(), { jobId: job.id, cursor: "" })).toBe("stale");
    const page = await env.DB.prepare("SELECT follow_up_sent, matched FROM backfill_pages WHERE job_id = ?")
      .bind(job.id)
      .first();
    expect(page).toEqual({ follow_up_sent: 1, matched: 20 });
    expect(await getBackfill(job.id)).toMatchObject({ matched: 20, enrolled: 20 });
  });

  it("uses the same number of D1 round trips per page for 10 contacts as for 500", async () => {
    const importJobId = await importPlans(520);
    const trips = async (pageSize: number) => {
      const count = newRoundTripCounter();
      const db = createDb(countRoundTrips(env.DB, count));
      const deps = { ...idleDeps(), db };
      const job = await createBackfillJob(deps, {
        journeyKey: "cart-recovery",
        filter: { importJobId },
        pageSize,
        dryRun: false,
      });
      count.count = 0;
      await processBackfillPage(deps, { jobId: job.id, cursor: "" });
      expect((await getBackfill(job.id)).matched).toBe(pageSize);
      return count.count;
    };
    const small = await trips(10);
    expect(await trips(500)).toBe(small);
  });

  it("self-heals a job whose message was lost, and fails one that never progresses", async () => {
    const importJobId = await importPlans(10);
    const input = { journeyKey: "activation-welcome", filter: { importJobId }, pageSize: 100, dryRun: false };
    const lost = await createBackfillJob(idleDeps(), input); // its first message went nowhere
    const stuck = await createBackfillJob(idleDeps(), input);
    const age = (id: string) =>
      env.DB.prepare("UPDATE backfill_jobs SET updated_at = updated_at - 3600000 WHERE id = ?").bind(id).run();
    await age(lost.id);
    await age(stuck.id);
    expect(await healStalledBackfills(idleDeps())).toMatchObject({ requeued: 2 });
    expect(await drainBackfill(lost.id)).toMatchObject({ status: "completed", matched: 10, enrolled: 10 });
    for (let i = 1; i < MAX_BACKFILL_RECOVERIES; i++) {
      await age(stuck.id);
      await healStalledBackfills(idleDeps());
    }
    await age(stuck.id);
    expect(await healStalledBackfills(idleDeps())).toMatchObject({ failed: 1 });
    const failed = await getBackfill(stuck.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain("no progress after 3 recovery attempts");
  });
});
