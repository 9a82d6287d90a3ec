import type { BatchPlan } from "../db/batch-plan";
import type { BackfillJob } from "../db/schema";
import type { Condition } from "../journeys/conditions";
import type { EmailSendMessage, JourneyStartMessage } from "../lib/queues";
import type { BackfillDeps } from "../services/backfills/jobs";
import type { SegmentPage } from "../services/segments";

export type BackfillPageDeps = BackfillDeps & {
  journeyStarts: Queue<JourneyStartMessage>;
  emailSends: Queue<EmailSendMessage>;
  /** What a broadcast's emails are decided and rendered with (as POST /v1/emails and delivery). */
  sending: { publicBaseUrl: string; tokenSecret: string; maxPerAddressPerDay: number };
};

/** A committed page: the contacts after `start` up to `end`; `done` when it was the job's last. */
export type PageSpan = { start: string; end: string; done: boolean; committedAt: Date };

/**
 * What a backfill job does with each page of its segment walk (journey enrollment, or a
 * broadcast's emails). The walk itself — cursor, page ledger, redelivery, crash recovery,
 * cancellation — is the same for both (pipeline/backfill-page.ts).
 */
export type PageAction<T> = {
  /** The journey trigger the segment read evaluates per contact (`triggerMatched`). */
  trigger?: Condition[];
  /** A pending job waits until then: a page message arriving earlier goes back to the queue. */
  notBefore?: Date | null;
  /** The page's writes, committed in one batch between the ledger row and the moved cursor. */
  decide(job: BackfillJob, page: SegmentPage, now: Date): Promise<BatchPlan<T>>;
  /**
   * Hands out the committed page's work (workflow starts, email sends). `decided` is the commit's
   * result, or null for a page whose invocation died after its commit (found again from D1).
   */
  handOut(job: BackfillJob, span: PageSpan, decided: T | null): Promise<void>;
  /** Seconds the next page waits after this one (a broadcast's rate); 0 when absent. */
  nextPageDelay?(rows: number): number;
};
