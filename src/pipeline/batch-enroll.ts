import { runPlans, writes } from "../db/batch-plan";
import type { Database } from "../db/client";
import type { Properties } from "../db/schema";
import { conditionsHold } from "../journeys/conditions";
import { getJourney } from "../journeys/registry";
import type { KeyedHash } from "../lib/keyed-hash";
import type { JourneyStartMessage } from "../lib/queues";
import { type AuditDraft, auditStatements } from "../services/audit-log";
import { contactUpsertStatements } from "../services/contacts";
import { enterPlan, previewEntriesPlan, type SkipReason } from "../services/entry-guards";
import { hashedAddresses } from "../services/suppressions";
import { enqueueStarts } from "../services/workflow-instances";

export type BatchEnrollUser = { userId: string; userEmail?: string; properties?: Properties };

export type BatchEnrollResult =
  | { userId: string; enrolled: true; enrollmentId?: string }
  | { userId: string; enrolled: false; reason: SkipReason };

export type BatchEnrollDeps = { db: Database; hash: KeyedHash; journeyStarts: Queue<JourneyStartMessage> };

/**
 * Upserts the users as contacts and decides every entry guard of the journey for them, atomically
 * and in one D1 round trip, so each `enrolled: true` is an enrollment row. Trigger conditions are
 * checked against the given properties. A user given without `userEmail` needs a contact that has
 * an address (else `no_email`). Workflows start through the journey-start queue.
 */
export async function batchEnroll(
  deps: BatchEnrollDeps,
  journeyKey: string,
  users: BatchEnrollUser[],
  options: { dryRun: boolean; audit?: AuditDraft },
) {
  const { db } = deps;
  const journey = getJourney(journeyKey);
  const hashes = await hashedAddresses(
    deps.hash,
    users.map((user) => user.userEmail),
  );
  const candidates = users.map((user, i) => ({
    userId: user.userId,
    triggerEventId: null,
    triggerMatched: conditionsHold(user.properties ?? {}, journey.trigger.where),
    givenEmail: Boolean(user.userEmail),
    emailHash: hashes[i],
  }));
  const upserts = options.dryRun
    ? []
    : contactUpsertStatements(
        db,
        users.map((u) => ({ externalId: u.userId, email: u.userEmail, properties: u.properties })),
        // Enrolling someone is not the place to change where their mail goes: ingest or import is.
        { source: "enroll", emailPolicy: "fill" },
      );
  const decide = options.dryRun
    ? previewEntriesPlan(db, journey, candidates)
    : enterPlan(db, journey, candidates, { source: "batch" });
  const [, decisions] = await runPlans(db, writes([...auditStatements(db, options.audit), ...upserts]), decide);

  const enrollmentIds = decisions.flatMap((d) => (d.enrolled ? [d.enrollmentId] : []));
  if (!options.dryRun) await enqueueStarts(deps.journeyStarts, enrollmentIds);

  const perUser: BatchEnrollResult[] = decisions.map((d) =>
    d.enrolled
      ? { userId: d.userId, enrolled: true, ...(options.dryRun ? {} : { enrollmentId: d.enrollmentId }) }
      : { userId: d.userId, enrolled: false, reason: d.reason },
  );
  return { enrolled: enrollmentIds.length, skipped: decisions.length - enrollmentIds.length, results: perUser };
}
