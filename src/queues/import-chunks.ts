import { z } from "zod";
import type { Deps } from "../composition";
import { errorFields, log } from "../lib/log";
import { IMPORT_CHUNK_MAX_RETRIES } from "../lib/queues";
import {
  DEFAULT_CHUNKS_PER_INVOCATION,
  FIRST_CHUNK_ROWS,
  failJobAfterRetries,
  processImportChunk,
} from "../services/imports/chunk";

const MessageSchema = z.object({ jobId: z.string().min(1).max(64), offset: z.number().int().min(0) });

/** The first delivery plus every retry. */
const LAST_ATTEMPT = IMPORT_CHUNK_MAX_RETRIES + 1;

/**
 * One message per invocation (max_batch_size = 1), a bounded run of chunks per message. A chunk that
 * throws is retried from the same checkpoint; on its last delivery the job is marked failed with
 * the chunk's error rather than left "processing" forever.
 */
export async function consumeImportChunks(batch: MessageBatch<unknown>, deps: Deps) {
  for (const message of batch.messages) {
    const parsed = MessageSchema.safeParse(message.body);
    if (!parsed.success) {
      log.error("malformed import message", { queue: batch.queue, messageId: message.id });
      message.ack();
      continue;
    }
    const { jobId, offset } = parsed.data;
    try {
      const outcome = await processImportChunk(deps.imports, parsed.data, {
        chunks: DEFAULT_CHUNKS_PER_INVOCATION,
        firstChunkRows: FIRST_CHUNK_ROWS,
      });
      log.info("import chunk", { queue: batch.queue, jobId, offset, outcome });
      message.ack();
    } catch (error) {
      log.error("import chunk failed", { queue: batch.queue, jobId, attempt: message.attempts, ...errorFields(error) });
      if (message.attempts < LAST_ATTEMPT) {
        message.retry();
        continue;
      }
      await failJobAfterRetries(deps.imports.db, jobId, message.attempts, error);
      message.ack();
    }
  }
}
