import { eq } from "drizzle-orm";
import { z } from "zod";
import { createDb, type Database } from "../db/client";
import { importJobs } from "../db/schema";
import { failJob, processImportChunk } from "../services/imports/chunk";
import type { ImportChunkMessage, ImportDeps } from "../services/imports/jobs";

/** wrangler.toml gives the import queue max_retries = 5: the 6th delivery is the last one. */
const LAST_ATTEMPT = 6;

const MessageSchema = z.object({ jobId: z.string().min(1).max(64), offset: z.number().int().min(0) });

/** Import dependencies from the bindings; a request passes its own (round-trip counted) db. */
export function importDeps(env: Env, db: Database = createDb(env.DB)): ImportDeps {
  return {
    db,
    bucket: env.IMPORT_UPLOADS,
    queue: env.IMPORT_CHUNKS_QUEUE as Queue<ImportChunkMessage>,
  };
}

/**
 * One chunk per message (max_batch_size = 1 keeps each invocation's D1 work bounded). A chunk that
 * throws is retried from the same checkpoint; on its last delivery the job is marked failed rather
 * than left "processing" forever.
 */
export async function consumeImportChunks(batch: MessageBatch<unknown>, env: Env) {
  const deps = importDeps(env);
  for (const message of batch.messages) {
    const parsed = MessageSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: "error", queue: batch.queue, error: "malformed import message", body: message.body }));
      message.ack();
      continue;
    }
    try {
      const outcome = await processImportChunk(deps, parsed.data);
      console.log(JSON.stringify({ level: "info", queue: batch.queue, jobId: parsed.data.jobId, offset: parsed.data.offset, outcome }));
      message.ack();
    } catch (err) {
      console.error(JSON.stringify({ level: "error", queue: batch.queue, jobId: parsed.data.jobId, attempt: message.attempts, error: String(err), stack: (err as Error)?.stack }));
      if (message.attempts < LAST_ATTEMPT) {
        message.retry();
        continue;
      }
      const [job] = await deps.db.select().from(importJobs).where(eq(importJobs.id, parsed.data.jobId));
      if (job) await failJob(deps.db, job, `Import stopped after ${message.attempts} failed attempts at data row ${job.checkpointRow}: ${String(err)}`);
      message.ack();
    }
  }
}
