import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { deadLetterQueue, QUEUES } from "../src/lib/queues";
import { HEAL_DEAD_LETTER_QUEUE, recordDeadLetter } from "../src/services/dead-letters";
import { adminGet, adminPost, expectErrorShape, queuedEmail, unique } from "./helpers";
import { drainImport, jobRow, seedJob } from "./imports-helpers";
import { bufferedEvent, deliver } from "./queues";

type Letter = { id: string; queue: string; messageId: string; subject: string | null; retriedAt: string | null };
type Retried = { id: string; queue: string; retriedAt: string; requeued: Record<string, unknown> };

/** Dead-letters one message of `queue` through its real dead-letter consumer; answers the recorded letter. */
async function deadLetter(queue: string, body: unknown): Promise<Letter> {
  const messageId = crypto.randomUUID();
  const result = await deliver(deadLetterQueue(queue), [{ id: messageId, attempts: 6, body }]);
  expect(result.explicitAcks).toEqual([messageId]);
  return letterOf(queue, messageId);
}

async function letterOf(queue: string, messageId: string): Promise<Letter> {
  const res = await adminGet(`/v1/admin/dead-letters?queue=${queue}&limit=1000`);
  const { deadLetters } = (await res.json()) as { deadLetters: Letter[] };
  const letter = deadLetters.find((d) => d.messageId === messageId);
  if (!letter) throw new Error(`no dead letter for message ${messageId}`);
  return letter;
}

const retry = (id: string) => adminPost(`/v1/admin/dead-letters/${id}/retry`);

async function retried(id: string): Promise<Retried> {
  const res = await retry(id);
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as Retried;
}

const row = <T>(query: string, ...params: unknown[]) =>
  env.DB.prepare(query)
    .bind(...params)
    .first<T>();

describe("POST /v1/admin/dead-letters/{id}/retry", () => {
  it("resends a dead email send as a new email, once, and says so in the list and the audit log", async () => {
    const { id: emailId } = await queuedEmail();
    const letter = await deadLetter(QUEUES.emailSends.name, { emailId });
    expect(await row("SELECT status FROM emails WHERE id = ?", emailId)).toEqual({ status: "failed" });

    const answer = await retried(letter.id);
    expect(answer).toMatchObject({ id: letter.id, queue: QUEUES.emailSends.name, requeued: { resentFromId: emailId } });
    const copy = await row<{ status: string; resent_from_id: string }>(
      "SELECT status, resent_from_id FROM emails WHERE id = ?",
      answer.requeued.emailId,
    );
    expect(copy?.resent_from_id).toBe(emailId);

    await expectErrorShape(await retry(letter.id), 409, "CONFLICT");
    expect((await letterOf(QUEUES.emailSends.name, letter.messageId)).retriedAt).toBe(answer.retriedAt);
    const copies = await row<{ n: number }>("SELECT count(*) AS n FROM emails WHERE resent_from_id = ?", emailId);
    expect(copies?.n).toBe(1);
    // The retry and the refused second one are both in the audit log.
    const { results: audit } = await env.DB.prepare(
      "SELECT status, action FROM audit_log WHERE target_ids LIKE ? ORDER BY status",
    )
      .bind(`%${letter.id}%`)
      .all();
    expect(audit).toEqual([
      { status: 202, action: "retryDeadLetter" },
      { status: 409, action: "retryDeadLetter" },
    ]);
  });

  it("metrics/overview counts the dead letters not retried yet", async () => {
    const notRetried = async () =>
      ((await (await adminGet("/v1/admin/metrics/overview")).json()) as { deadLetters: { notRetried: number } })
        .deadLetters.notRetried;
    const before = await notRetried();
    const { id: emailId } = await queuedEmail();
    const letter = await deadLetter(QUEUES.emailSends.name, { emailId });
    expect(await notRetried()).toBe(before + 1);
    await retried(letter.id);
    expect(await notRetried()).toBe(before);
  });

  it("lets only one of two concurrent retries through", async () => {
    const { id: emailId } = await queuedEmail();
    const letter = await deadLetter(QUEUES.emailSends.name, { emailId });
    const statuses = (await Promise.all([retry(letter.id), retry(letter.id)])).map((r) => r.status).sort();
    expect(statuses).toEqual([202, 409]);
    const copies = await row<{ n: number }>("SELECT count(*) AS n FROM emails WHERE resent_from_id = ?", emailId);
    expect(copies?.n).toBe(1);
  });

  it("resumes a failed import from its checkpoint, and it completes with every row", async () => {
    const tag = unique("dlr");
    const csv = ["externalId,email", ...Array.from({ length: 5 }, (_, i) => `${tag}_${i},${tag}_${i}@example.com`)];
    const jobId = await seedJob("csv", csv.join("\n"));
    const letter = await deadLetter(QUEUES.importChunks.name, { jobId, offset: 0 });
    expect(await jobRow(jobId)).toMatchObject({ status: "failed" });

    expect((await retried(letter.id)).requeued).toEqual({ importJobId: jobId });
    expect(await jobRow(jobId)).toMatchObject({ error: null, finished_at: null });
    const done = await drainImport(jobId);
    expect(done).toMatchObject({ status: "completed", processedRows: 5, failedRows: 0 });
  });

  it("doesn't resume an import created before someone was erased: its file may hold them (409)", async () => {
    const tag = unique("dlr_erased");
    const jobId = await seedJob("csv", `externalId,email\n${tag},${tag}@example.com`);
    const letter = await deadLetter(QUEUES.importChunks.name, { jobId, offset: 0 });
    await env.DB.prepare("INSERT INTO erasure_markers (id, erased_at) VALUES (?, ?)")
      .bind(unique("marker"), Date.now())
      .run();
    const res = await retry(letter.id);
    await expectErrorShape(res.clone(), 409, "CONFLICT");
    expect(((await res.json()) as { error: string }).error).toContain("import the file again");
    expect(await jobRow(jobId)).toMatchObject({ status: "failed" });
    expect((await letterOf(QUEUES.importChunks.name, letter.messageId)).retriedAt).toBeNull();
  });

  it("refuses (409) when what it was about moved on: a job no longer failed, an erased email", async () => {
    const jobId = await seedJob("csv", `externalId\n${unique("x")}`);
    const letter = await deadLetter(QUEUES.importChunks.name, { jobId, offset: 0 });
    await env.DB.prepare("UPDATE import_jobs SET status = 'cancelled' WHERE id = ?").bind(jobId).run();
    const res = await retry(letter.id);
    await expectErrorShape(res.clone(), 409, "CONFLICT");
    expect(((await res.json()) as { error: string }).error).toContain("cancelled");
    expect((await letterOf(QUEUES.importChunks.name, letter.messageId)).retriedAt).toBeNull();

    const { id: emailId } = await queuedEmail();
    const mail = await deadLetter(QUEUES.emailSends.name, { emailId });
    await env.DB.prepare("DELETE FROM emails WHERE id = ?").bind(emailId).run();
    await expectErrorShape(await retry(mail.id), 409, "CONFLICT");
  });

  it("restarts enrollments whose workflow never started, unless the person is in the journey again", async () => {
    const now = Date.now();
    const [lone, rejoined] = [unique("js"), unique("js")];
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    for (const [i, userId] of [lone, rejoined].entries()) {
      await env.DB.prepare(
        "INSERT INTO enrollments (id, journey_key, user_id, status, source, enrolled_at, updated_at) VALUES (?, 'activation-welcome', ?, 'active', 'batch', ?, ?)",
      )
        .bind(ids[i], userId, now, now)
        .run();
    }
    const letter = await deadLetter(QUEUES.journeyStarts.name, { enrollmentIds: ids });
    expect(await row("SELECT status FROM enrollments WHERE id = ?", ids[0])).toEqual({ status: "failed" });
    // Meanwhile the second person entered the journey again.
    await env.DB.prepare(
      "INSERT INTO enrollments (id, journey_key, user_id, status, source, enrolled_at, updated_at) VALUES (?, 'activation-welcome', ?, 'waiting', 'event', ?, ?)",
    )
      .bind(crypto.randomUUID(), rejoined, now, now)
      .run();

    expect((await retried(letter.id)).requeued).toEqual({ enrollmentIds: [ids[0]] });
    expect(await row("SELECT status, error FROM enrollments WHERE id = ?", ids[0])).toEqual({
      status: "active",
      error: null,
    });
    expect(await row("SELECT status FROM enrollments WHERE id = ?", ids[1])).toEqual({ status: "failed" });
  });

  it("sends buffered events that were never stored back to ingest", async () => {
    const userId = unique("dlr_ingest");
    const event = bufferedEvent(userId);
    const letter = await deadLetter(QUEUES.ingestEvents.name, { source: "api", events: [event] });
    expect((await retried(letter.id)).requeued).toEqual({ eventIds: [event.id] });
    // The real ingest queue's consumer stores it.
    await vi.waitFor(
      async () => expect(await row("SELECT user_id FROM events WHERE id = ?", event.id)).not.toBeNull(),
      {
        timeout: 10_000,
        interval: 200,
      },
    );
  });

  it("gives an event self-healing gave up on its attempts back; if it dies again, it is listed again", async () => {
    const userId = unique("dlr_heal");
    const eventId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO events (id, event, user_id, properties, source, occurred_at, received_at, heal_attempts) VALUES (?, 'x', ?, '{}', 'api', ?, ?, 3)",
    )
      .bind(eventId, userId, Date.now(), Date.now())
      .run();
    const db = createDb(env.DB);
    const dead = { queue: HEAL_DEAD_LETTER_QUEUE, messageId: eventId, body: { eventId }, attempts: 3 };
    await recordDeadLetter(db, dead, { subject: `event:${eventId}`, error: "first" });
    const letter = await letterOf(HEAL_DEAD_LETTER_QUEUE, eventId);

    expect((await retried(letter.id)).requeued).toEqual({ eventId });
    expect(await row("SELECT heal_attempts FROM events WHERE id = ?", eventId)).toEqual({ heal_attempts: 0 });

    await recordDeadLetter(db, dead, { subject: `event:${eventId}`, error: "second" });
    const again = await row<{ retried_at: number | null; error: string }>(
      "SELECT retried_at, error FROM dead_letters WHERE id = ?",
      letter.id,
    );
    expect(again).toEqual({ retried_at: null, error: "second" });
  });

  it("answers 404 for an unknown id and 409 for a body its queue's schema refuses", async () => {
    await expectErrorShape(await retry("no-such-letter"), 404, "NOT_FOUND");
    const messageId = crypto.randomUUID();
    await deliver(QUEUES.backfills.name, [{ id: messageId, body: { jobId: 7 } }]);
    const letter = await letterOf(QUEUES.backfills.name, messageId);
    await expectErrorShape(await retry(letter.id), 409, "CONFLICT");
  });
});
