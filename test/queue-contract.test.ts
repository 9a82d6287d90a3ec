import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deadLetterQueue, QUEUES, retryDelaySeconds } from "../src/lib/queues";
import { adminGet, unique } from "./helpers";
import { bufferedEvent, deliver } from "./queues";

type Listed = { messageId: string; queue: string; subject: string | null; error: string; body: unknown };

async function deadLettersOf(queue: string): Promise<Listed[]> {
  const res = await adminGet(`/v1/admin/dead-letters?queue=${queue}&limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { deadLetters: Listed[] }).deadLetters;
}

/** Bodies no queue's schema accepts: wrong shape, wrong types, not an object at all. */
const MALFORMED: unknown[] = [{ nope: true }, "just text", null, { jobId: 7, offset: "0", emailId: 1, events: {} }];

const queueNames = Object.values(QUEUES).flatMap((q) => [q.name, deadLetterQueue(q.name)]);

describe("a malformed message body", () => {
  it.each(queueNames)("on %s is recorded as a dead letter and acked, not retried", async (queue) => {
    const messages = MALFORMED.map((body) => ({ id: crypto.randomUUID(), body }));
    const result = await deliver(queue, messages);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());

    const recordedAs = queue.replace(/-dlq$/, "");
    const listed = await deadLettersOf(recordedAs);
    for (const message of messages) {
      expect(listed.find((d) => d.messageId === message.id)).toMatchObject({
        queue: recordedAs,
        subject: null,
        error: expect.stringMatching(/^Malformed message body: /),
        body: message.body,
      });
    }
  });

  it("doesn't hold back the well-formed messages of its batch (buffered ingest)", async () => {
    const good = bufferedEvent(unique("good"));
    const bad = {
      id: crypto.randomUUID(),
      body: { source: "api", events: [{ ...bufferedEvent("x"), occurredAt: "soon" }] },
    };
    const ok = { id: crypto.randomUUID(), body: { source: "api", events: [good] } };
    const result = await deliver(QUEUES.ingestEvents.name, [bad, ok]);
    expect(result.explicitAcks.sort()).toEqual([bad.id, ok.id].sort());
    expect(result.retryMessages).toEqual([]);
    const row = await env.DB.prepare("SELECT processed_at FROM events WHERE id = ?").bind(good.id).first();
    expect(row?.processed_at).not.toBeNull();
    const listed = await deadLettersOf(QUEUES.ingestEvents.name);
    expect(listed.find((d) => d.messageId === bad.id)?.error).toContain("events.0.occurredAt");
  });

  it("names what is wrong without repeating the body's values", async () => {
    const id = crypto.randomUUID();
    await deliver(QUEUES.emailSends.name, [{ id, body: { emailId: 12345678 } }]);
    const [letter] = (await deadLettersOf(QUEUES.emailSends.name)).filter((d) => d.messageId === id);
    expect(letter!.error).toContain("emailId");
    expect(letter!.error).not.toContain("12345678");
  });
});

describe("retry backoff", () => {
  it("is one function: 10 s after the first delivery, doubling, capped at 300 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it("every consumer retries a failed message with it", async () => {
    const faulty = unique("fault");
    await env.DB.exec(
      `CREATE TRIGGER IF NOT EXISTS fault_${faulty} BEFORE INSERT ON events WHEN NEW.user_id = '${faulty}' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    );
    try {
      for (const attempts of [1, 3, 5]) {
        const failing = [
          [QUEUES.emailSends.name, { emailId: `missing-${crypto.randomUUID()}` }],
          [QUEUES.journeyStarts.name, { enrollmentIds: ["not:a:workflow:id"] }],
          [QUEUES.ingestEvents.name, { source: "api", events: [bufferedEvent(faulty)] }],
        ] as const;
        for (const [queue, body] of failing) {
          const id = crypto.randomUUID();
          const result = await deliver(queue, [{ id, body, attempts }]);
          expect(
            result.retryMessages.map((m) => m.msgId),
            queue,
          ).toEqual([id]);
          expect(result.delays, queue).toEqual({ [id]: retryDelaySeconds(attempts) });
        }
      }
    } finally {
      await env.DB.exec(`DROP TRIGGER fault_${faulty}`);
    }
  });
});
