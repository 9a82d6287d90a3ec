import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { DEAD_LETTER_MAX_RETRIES, deadLetterQueue, QUEUES } from "../src/lib/queues";
import { consumedQueues } from "../src/queues";
import wranglerToml from "../wrangler.toml?raw";

type Producer = { binding: string; queue: string };
type Consumer = { queue: string; max_retries?: number; dead_letter_queue?: string };

const config = parse(wranglerToml) as { queues?: { producers?: Producer[]; consumers?: Consumer[] } };
const producers = config.queues?.producers ?? [];
const consumers = config.queues?.consumers ?? [];
const consumerOf = (queue: string) => consumers.filter((c) => c.queue === queue);
const queues = Object.values(QUEUES);

describe("wrangler.toml agrees with the queue table (src/lib/queues.ts)", () => {
  it.each(queues.map((q) => [q.name, q] as const))(
    "%s: producer binding, consumer, max_retries, dead-letter queue",
    (name, queue) => {
      expect(producers.filter((p) => p.queue === name)).toEqual([{ binding: queue.binding, queue: name }]);
      const [consumer, ...more] = consumerOf(name);
      expect(more).toEqual([]);
      expect(consumer).toMatchObject({ max_retries: queue.maxRetries, dead_letter_queue: deadLetterQueue(name) });
      const [dlq, ...moreDlq] = consumerOf(deadLetterQueue(name));
      expect(moreDlq).toEqual([]);
      expect(dlq).toMatchObject({ max_retries: DEAD_LETTER_MAX_RETRIES });
      expect(dlq!.dead_letter_queue).toBeUndefined();
    },
  );

  it("declares no queue the code doesn't know, and the Worker consumes every queue it declares", () => {
    const known = new Set(queues.flatMap((q) => [q.name, deadLetterQueue(q.name)]));
    const declared = [...producers.map((p) => p.queue), ...consumers.map((c) => c.queue)];
    expect(declared.filter((queue) => !known.has(queue))).toEqual([]);
    expect(producers.map((p) => p.binding).sort()).toEqual(queues.map((q) => q.binding).sort());
    expect(consumedQueues().sort()).toEqual(consumers.map((c) => c.queue).sort());
  });
});
