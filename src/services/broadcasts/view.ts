import { desc, inArray, lt, sql } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { backfillTallies, broadcasts, emails } from "../../db/schema";
import { notFound } from "../../lib/errors";
import { keysetPage } from "../../lib/sql";
import { type Outcome, outcomeSql, SKIP_KINDS, type SkipKind } from "./fates";
import { type BroadcastRow, loadBroadcastRows } from "./jobs";

export const BROADCAST_STATES = ["scheduled", "pending", "sending", "completed", "cancelled", "failed"] as const;
export type BroadcastState = (typeof BROADCAST_STATES)[number];

type Counts = Record<Outcome, number>;
const noCounts = (): Counts => ({
  queued: 0,
  sent: 0,
  failed: 0,
  cancelled: 0,
  ...(Object.fromEntries(SKIP_KINDS.map((k) => [k, 0])) as Record<SkipKind, number>),
});

/**
 * What a broadcast is doing: `scheduled` before sendAt, `sending` while its walk runs or emails
 * are still queued, `completed` once every email is decided (sent, skipped or failed).
 */
function stateOf({ broadcast, job }: BroadcastRow, counts: Counts, now: number): BroadcastState {
  if (job.status === "pending" && broadcast.sendAt && broadcast.sendAt.getTime() > now) return "scheduled";
  if (job.status === "processing") return "sending";
  if (job.status === "completed" && !job.dryRun && counts.queued > 0) return "sending";
  return job.status;
}

function view(row: BroadcastRow, counts: Counts, now: number) {
  const { broadcast, job } = row;
  const { queued, sent, failed, cancelled, ...skipped } = counts;
  return {
    id: broadcast.id,
    name: broadcast.name,
    template: broadcast.templateKey,
    topic: broadcast.topicKey,
    data: broadcast.data,
    filter: job.filter,
    status: stateOf(row, counts, now),
    dryRun: job.dryRun,
    sendAt: broadcast.sendAt,
    ratePerMinute: broadcast.ratePerMinute,
    targeted: job.matched,
    queued,
    sent,
    failed,
    cancelled,
    skipped: skipped as Record<SkipKind, number>,
    pages: job.pages,
    samples: broadcast.samples,
    error: job.error,
    createdAt: broadcast.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
}

export type BroadcastView = ReturnType<typeof view>;

/**
 * Counts in one round trip: a sending broadcast's from its email rows (what delivery made of
 * them, live), a dry run's from the tallies its pages committed.
 */
async function withCounts(db: Database, rows: BroadcastRow[], now = Date.now()): Promise<BroadcastView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.broadcast.id);
  const [sent, dry] = (await runBatch(db, [
    db.all(sql`SELECT broadcast_id AS id, ${outcomeSql} AS outcome, count(*) AS n FROM emails
      WHERE ${inArray(emails.broadcastId, ids)} GROUP BY broadcast_id, outcome`),
    db
      .select({ id: backfillTallies.jobId, outcome: backfillTallies.outcome, n: backfillTallies.n })
      .from(backfillTallies)
      .where(inArray(backfillTallies.jobId, ids)),
  ])) as Array<Array<{ id: string; outcome: Outcome; n: number }>>;
  return rows.map((row) => {
    const counts = noCounts();
    for (const t of [...sent!, ...dry!]) if (t.id === row.broadcast.id) counts[t.outcome] += t.n;
    return view(row, counts, now);
  });
}

export async function getBroadcast(db: Database, id: string): Promise<BroadcastView> {
  const rows = await loadBroadcastRows(db, [id]);
  if (rows.length === 0) throw notFound("Broadcast");
  return (await withCounts(db, rows))[0]!;
}

/** Newest first, keyset-paged. */
export async function listBroadcasts(db: Database, query: { limit: number; cursor?: string }) {
  const ids = await db
    .select({ id: broadcasts.id })
    .from(broadcasts)
    .where(query.cursor ? lt(broadcasts.id, query.cursor) : undefined)
    .orderBy(desc(broadcasts.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(ids, query.limit);
  const rows = await loadBroadcastRows(
    db,
    page.map((r) => r.id),
  );
  return { broadcasts: await withCounts(db, rows), nextCursor };
}
