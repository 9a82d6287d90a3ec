import { log } from "../lib/log";
import { QUEUES } from "../lib/queues";
import {
  DEFAULT_CHUNKS_PER_INVOCATION,
  FIRST_CHUNK_ROWS,
  failJobAfterRetries,
  processImportChunk,
} from "../services/imports/chunk";
import { eachMessage, queueConsumer } from "./consume";

/**
 * One message per invocation (max_batch_size = 1), a bounded run of chunks per message. A chunk that
 * throws is retried from the same checkpoint; on its last delivery the job is marked failed with
 * the chunk's error rather than left "processing" forever.
 */
export const consumeImportChunks = queueConsumer({
  queue: QUEUES.importChunks,
  run: eachMessage(async (deps, body) => {
    const imports = { ...deps.imports, webhookQueue: deps.webhooks.webhookQueue };
    const outcome = await processImportChunk(imports, body, {
      chunks: deps.imports.chunksPerInvocation ?? DEFAULT_CHUNKS_PER_INVOCATION,
      firstChunkRows: FIRST_CHUNK_ROWS,
    });
    log.info("import chunk", { queue: QUEUES.importChunks.name, ...body, outcome });
  }),
  onLastAttempt: (deps, body, attempts, error) =>
    failJobAfterRetries(deps.imports.db, body.jobId, attempts, error, deps.webhooks.webhookQueue),
  describe: (body) => ({ jobId: body.jobId, offset: body.offset }),
});
