/** A queue's `sendBatch` takes at most 100 messages per call. */
const SEND_BATCH_MAX = 100;

/** Sends any number of message bodies, 100 per `sendBatch` call. */
export async function sendAll<Body>(queue: Queue<Body>, bodies: Body[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += SEND_BATCH_MAX) {
    await queue.sendBatch(bodies.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body })));
  }
}
