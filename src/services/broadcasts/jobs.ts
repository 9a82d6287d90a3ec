import { and, eq, inArray, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import {
  type BackfillJob,
  type Broadcast,
  type BroadcastSample,
  backfillJobs,
  broadcasts,
  emails,
  type Properties,
  type SegmentFilter,
} from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { BackfillPageMessage } from "../../lib/queues";
import { CANCELLED_REASON } from "./fates";

/** A broadcast's walk is a backfill job of no journey: this key, which no journey can have. */
export const BROADCAST_JOURNEY_KEY = "";

/** Contacts per page without a rate; with one, a page is at most a minute's worth. */
export const BROADCAST_PAGE_SIZE = 500;

export type BroadcastInput = {
  template: string;
  data: Properties;
  topic: string;
  filter: SegmentFilter;
  name?: string;
  sendAt?: Date;
  ratePerMinute?: number;
  dryRun: boolean;
  idempotencyKey?: string;
  samples?: BroadcastSample[];
};

export const pageSizeFor = (ratePerMinute: number | null | undefined) =>
  Math.max(1, Math.min(BROADCAST_PAGE_SIZE, ratePerMinute ?? BROADCAST_PAGE_SIZE));

/** The first page waits for `sendAt` (12 hours at most per queue message; the page waits out the rest). */
const firstDelay = (sendAt: Date | undefined, now: Date) =>
  sendAt ? Math.min(12 * 3600, Math.max(0, Math.ceil((sendAt.getTime() - now.getTime()) / 1000))) : 0;

/**
 * Records the broadcast and its walk in one batch and queues the first page. With an
 * Idempotency-Key seen before, D1's unique index keeps the first broadcast, which is answered
 * (`created: false`) and nothing more is queued. A failed queue send leaves nothing behind.
 */
export async function createBroadcast(
  deps: { db: Database; queue: Queue<BackfillPageMessage> },
  input: BroadcastInput,
  now = new Date(),
): Promise<{ id: string; created: boolean }> {
  const { db } = deps;
  const id = newId();
  const insertBroadcast = db
    .insert(broadcasts)
    .values({
      id,
      name: input.name ?? null,
      templateKey: input.template,
      data: input.data,
      topicKey: input.topic,
      sendAt: input.sendAt ?? null,
      ratePerMinute: input.ratePerMinute ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      samples: input.samples ?? null,
      createdAt: now,
    })
    .onConflictDoNothing();
  const at = now.getTime();
  const insertJob = db.run(sql`INSERT INTO backfill_jobs
      (id, journey_key, status, dry_run, filter, max_contacts, page_size, created_at, updated_at)
    SELECT ${id}, ${BROADCAST_JOURNEY_KEY}, 'pending', ${input.dryRun ? 1 : 0}, ${JSON.stringify(input.filter)},
      NULL, ${pageSizeFor(input.ratePerMinute)}, ${at}, ${at}
    WHERE EXISTS (SELECT 1 FROM broadcasts WHERE id = ${id})`);
  const readBack = db
    .select({ id: broadcasts.id })
    .from(broadcasts)
    .where(input.idempotencyKey ? eq(broadcasts.idempotencyKey, input.idempotencyKey) : eq(broadcasts.id, id));
  const results = await runBatch(db, [insertBroadcast, insertJob, readBack]);
  const [row] = results[2] as Array<{ id: string }>;
  if (row!.id !== id) return { id: row!.id, created: false };
  try {
    const delaySeconds = firstDelay(input.sendAt, now);
    await deps.queue.send({ jobId: id, cursor: "" }, delaySeconds > 0 ? { delaySeconds } : undefined);
  } catch (err) {
    await runBatch(db, [
      db.delete(backfillJobs).where(eq(backfillJobs.id, id)),
      db.delete(broadcasts).where(eq(broadcasts.id, id)),
    ]);
    throw err;
  }
  return { id, created: true };
}

export async function loadBroadcast(db: Database, id: string): Promise<Broadcast | undefined> {
  const [row] = await db.select().from(broadcasts).where(eq(broadcasts.id, id));
  return row;
}

export async function findBroadcastByKey(db: Database, idempotencyKey: string): Promise<string | undefined> {
  const [row] = await db
    .select({ id: broadcasts.id })
    .from(broadcasts)
    .where(eq(broadcasts.idempotencyKey, idempotencyKey));
  return row?.id;
}

export type BroadcastRow = { broadcast: Broadcast; job: BackfillJob };

/** Broadcasts with their walks, by id. */
export async function loadBroadcastRows(db: Database, ids: string[]): Promise<BroadcastRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ broadcast: broadcasts, job: backfillJobs })
    .from(broadcasts)
    .innerJoin(backfillJobs, eq(backfillJobs.id, broadcasts.id))
    .where(inArray(broadcasts.id, ids));
  return ids.flatMap((id) => rows.filter((r) => r.broadcast.id === id));
}

const RUNNING = ["pending", "processing"] as const;

/**
 * Stops a broadcast in one batch: its walk (a page in flight can no longer commit: its ledger row
 * needs the job processing) and every email not yet handed to the provider (queued, unclaimed:
 * `sent_at` is set only by the send step's claim), which becomes `skipped` (`broadcast_cancelled`).
 * An email already claimed goes out. A finished walk whose emails are still queued can be cancelled too.
 */
export async function cancelBroadcast(db: Database, id: string, now = new Date()) {
  const at = now.getTime();
  const hasQueued = sql`EXISTS (SELECT 1 FROM emails e WHERE e.broadcast_id = ${id} AND e.status = 'queued' AND e.sent_at IS NULL)`;
  const [stopped] = (await runBatch(db, [
    db.all(sql`UPDATE backfill_jobs SET status = 'cancelled', finished_at = ${at}, updated_at = ${at}
      WHERE id = ${id} AND journey_key = ${BROADCAST_JOURNEY_KEY}
        AND (status IN ('pending', 'processing') OR (status = 'completed' AND dry_run = 0 AND ${hasQueued}))
      RETURNING id`),
    db
      .update(emails)
      .set({ status: "skipped", error: CANCELLED_REASON, updatedAt: now })
      .where(
        and(
          eq(emails.broadcastId, id),
          eq(emails.status, "queued"),
          sql`${emails.sentAt} IS NULL`,
          sql`EXISTS (SELECT 1 FROM backfill_jobs WHERE id = ${id} AND status = 'cancelled' AND updated_at = ${at})`,
        ),
      ),
  ])) as [Array<{ id: string }>, unknown];
  if (stopped.length > 0) return;
  const [row] = await loadBroadcastRows(db, [id]);
  if (!row) throw notFound("Broadcast");
  throw new AppError("CONFLICT", `Broadcast is already ${row.job.status}`);
}

export const isRunning = (job: BackfillJob) => (RUNNING as readonly string[]).includes(job.status);
