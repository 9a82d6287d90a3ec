import { and, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type ArchiveErasureState, archiveErasures } from "../db/schema";
import type { KeyedHash } from "../lib/keyed-hash";
import { sha256 } from "../lib/sha256";
import { ARCHIVE_PREFIX } from "./event-archive";

export type ArchiveErasureDeps = { db: Database; hash: KeyedHash; archive: R2Bucket };

/** Erasure's promise about the R2 event archive, as the DELETE answer reports it. */
export type ArchiveState = ArchiveErasureState;

/**
 * Records that the archive must lose the person's lines: `scrub_pending` until a full pass of the
 * cron's scrub (services/archive-scrub.ts) that saw this request completes; `nothing_archived`
 * when the archive holds no object at all. Recorded before the person's events are deleted, so a
 * retention run from then on leaves their events out of the archive. A repeat (another DELETE of
 * the same id) starts the wait again.
 */
export async function recordArchiveErasure(
  { db, hash, archive }: ArchiveErasureDeps,
  userId: string,
  now = new Date(),
): Promise<ArchiveState> {
  const empty = (await archive.list({ prefix: ARCHIVE_PREFIX, limit: 1 })).objects.length === 0;
  const state: ArchiveState = empty ? "nothing_archived" : "scrub_pending";
  const pending = state === "scrub_pending";
  await db.run(sql`INSERT INTO archive_erasures (id, user_id, state, requested_at, requested_seq, done_at)
    VALUES (${await hash(userId)}, ${pending ? userId : null}, ${state}, ${now.getTime()},
      (SELECT coalesce(max(requested_seq), 0) + 1 FROM archive_erasures), ${pending ? null : now.getTime()})
    ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state,
      requested_at = excluded.requested_at, requested_seq = excluded.requested_seq, done_at = excluded.done_at`);
  return state;
}

/**
 * The archive state of an earlier erasure of this user id; null when it was never erased. Erasures
 * before migration 0012 are keyed by a bare SHA-256, and still found by it.
 */
export async function archiveErasureState(
  { db, hash }: Pick<ArchiveErasureDeps, "db" | "hash">,
  userId: string,
): Promise<ArchiveState | null> {
  const ids = await Promise.all([hash(userId), sha256(userId)]);
  const [row] = await db
    .select({ state: archiveErasures.state })
    .from(archiveErasures)
    .where(inArray(archiveErasures.id, ids))
    .orderBy(desc(archiveErasures.requestedAt))
    .limit(1);
  return row?.state ?? null;
}

/**
 * User ids whose archived lines are still to be scrubbed (all, or those among `userIds`): readers
 * of the archive skip their events, so a replay can't bring an erased person back.
 */
export async function pendingErasedUserIds(db: Database, userIds?: string[]): Promise<Set<string>> {
  const rows = await db
    .select({ userId: archiveErasures.userId })
    .from(archiveErasures)
    .where(
      and(
        eq(archiveErasures.state, "scrub_pending"),
        isNotNull(archiveErasures.userId),
        userIds ? inArray(archiveErasures.userId, userIds) : undefined,
      ),
    );
  return new Set(rows.map((row) => row.userId!));
}
