import { and, eq, isNotNull, lte, max } from "drizzle-orm";
import type { Database } from "../db/client";
import { runBatch } from "../db/client";
import { archiveErasures, archiveScrub } from "../db/schema";
import { pendingErasedUserIds } from "./archive-erasures";
import { ARCHIVE_PREFIX } from "./event-archive";

export type ScrubDeps = { db: Database; archive: R2Bucket };

/**
 * Archive objects one cron run reads (each a get, and a put or delete when it held an erased
 * person's lines): R2 subrequests only, no D1 write but the cursor, so ingest never waits on it.
 */
export type ScrubBudget = { maxObjects: number };
export const DEFAULT_SCRUB_BUDGET: ScrubBudget = { maxObjects: 200 };

export type ScrubReport = { scrubbedObjects: number; scrubbedLines: number; erasuresScrubbed: number };
const NOTHING: ScrubReport = { scrubbedObjects: 0, scrubbedLines: 0, erasuresScrubbed: 0 };

type Pass = { coversSeq: number; passStartedAt: Date; afterKey: string | null };

/**
 * One bounded step of the pass over the whole archive that removes the lines of every pending
 * erasure: from the stored cursor, at most `maxObjects` objects in key order, each rewritten
 * without those lines (deleted when none are left). A pass starts when erasures are pending and
 * none runs; it covers the erasures recorded before it started (later ones are scrubbed from
 * wherever it is, and the next pass covers them). When it reaches the end of the archive, the
 * erasures it covers are done: their clear user id is dropped.
 */
export async function scrubArchive(
  deps: ScrubDeps,
  now = new Date(),
  budget = DEFAULT_SCRUB_BUDGET,
): Promise<ScrubReport> {
  const pass = (await currentPass(deps.db)) ?? (await startPass(deps.db, now));
  if (!pass) return NOTHING;
  const pending = await pendingErasedUserIds(deps.db);
  const report = { ...NOTHING };
  const page = await deps.archive.list({
    prefix: ARCHIVE_PREFIX,
    startAfter: pass.afterKey ?? undefined,
    limit: budget.maxObjects,
  });
  for (const object of page.objects) {
    const removed = await scrubObject(deps.archive, object.key, pending);
    if (removed > 0) report.scrubbedObjects += 1;
    report.scrubbedLines += removed;
  }
  if (page.truncated) {
    await savePass(deps.db, { ...pass, afterKey: page.objects.at(-1)?.key ?? pass.afterKey });
    return report;
  }
  report.erasuresScrubbed = await finishPass(deps.db, pass, now);
  return report;
}

async function currentPass(db: Database): Promise<Pass | null> {
  const [row] = await db.select().from(archiveScrub).where(eq(archiveScrub.id, 1));
  if (row?.coversSeq == null || !row.passStartedAt) return null;
  return { coversSeq: row.coversSeq, passStartedAt: row.passStartedAt, afterKey: row.afterKey };
}

/** A new pass covering every erasure pending now; null when none is. */
async function startPass(db: Database, now: Date): Promise<Pass | null> {
  const [row] = await db
    .select({ seq: max(archiveErasures.requestedSeq) })
    .from(archiveErasures)
    .where(eq(archiveErasures.state, "scrub_pending"));
  if (row?.seq == null) return null;
  const pass = { coversSeq: row.seq, passStartedAt: now, afterKey: null };
  await savePass(db, pass);
  return pass;
}

function savePass(db: Database, pass: Pass | null) {
  const values = { id: 1, coversSeq: null, passStartedAt: null, afterKey: null, ...pass };
  return db.insert(archiveScrub).values(values).onConflictDoUpdate({ target: archiveScrub.id, set: values });
}

/** The erasures the pass covered are done (their clear id dropped); the next run may start another pass. */
async function finishPass(db: Database, pass: Pass, now: Date): Promise<number> {
  const covered = and(
    eq(archiveErasures.state, "scrub_pending"),
    lte(archiveErasures.requestedSeq, pass.coversSeq),
    isNotNull(archiveErasures.userId),
  );
  const [done] = await runBatch(db, [
    db
      .update(archiveErasures)
      .set({ state: "scrubbed", userId: null, doneAt: now })
      .where(covered)
      .returning({ id: archiveErasures.id }),
    savePass(db, null),
  ]);
  return (done as unknown[]).length;
}

/** Rewrites one archive object without the lines of `userIds`; the number of lines removed. */
async function scrubObject(archive: R2Bucket, key: string, userIds: Set<string>): Promise<number> {
  if (userIds.size === 0) return 0;
  const object = await archive.get(key);
  if (!object) return 0;
  const lines = (await object.text()).split("\n").filter(Boolean);
  const kept = lines.filter((line) => !userIds.has((JSON.parse(line) as { userId: string }).userId));
  if (kept.length === lines.length) return 0;
  if (kept.length === 0) await archive.delete(key);
  else
    await archive.put(key, `${kept.join("\n")}\n`, {
      httpMetadata: object.httpMetadata,
      customMetadata: { ...object.customMetadata, events: String(kept.length) },
    });
  return lines.length - kept.length;
}
