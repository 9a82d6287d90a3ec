import { and, eq, inArray, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { type Email, type EmailStatus, emails, webhookDeliveries } from "../db/schema";
import { SOFT_BOUNCES_BEFORE_SUPPRESSION, softBounceCount, suppressStatement } from "./suppressions";
import { emailEventData } from "./webhooks/events";
import {
  enqueueWebhookDeliveries,
  type WebhookEmitDeps,
  type WebhookEventData,
  webhookOutboxStatement,
} from "./webhooks/outbox";

export type ProviderEvent =
  | { type: "delivered"; messageId: string; at: Date }
  | { type: "bounced"; messageId: string; at: Date; bounce: "hard" | "soft"; detail?: string }
  | { type: "complained"; messageId: string; at: Date };

/** Which statuses each provider event may move an email from: no downgrades (a bounce is never "delivered" again). */
const ALLOWED_FROM: Record<ProviderEvent["type"], EmailStatus[]> = {
  delivered: ["sent"],
  bounced: ["sent", "delivered"],
  complained: ["sent", "delivered"],
};

export type AppliedEvent = {
  duplicate: boolean;
  emailId: string | null;
  status: EmailStatus | null;
  suppressed: boolean;
};

/** The webhook delivery that carried the event: its sender and message id (`svix-id`). */
export type Delivery = { source: "resend"; id: string };

const DUPLICATE: AppliedEvent = { duplicate: true, emailId: null, status: null, suppressed: false };

/**
 * Applies a provider's delivery event to the email it concerns. A hard bounce or a complaint
 * suppresses the address, and so does the third soft bounce.
 *
 * The delivery's id is recorded in the batch that updates the email, and the update runs only
 * when this request's insert made that record: a replayed delivery (a signature stays valid for
 * 5 minutes) changes nothing and answers `duplicate`, however close the two arrive.
 */
export async function applyProviderEvent(
  deps: WebhookEmitDeps,
  event: ProviderEvent,
  delivery: Delivery,
): Promise<AppliedEvent> {
  const { db } = deps;
  const claim = crypto.randomUUID();
  const record = db
    .insert(webhookDeliveries)
    .values({ source: delivery.source, messageId: delivery.id, claim, receivedAt: new Date() })
    .onConflictDoNothing()
    .returning({ claim: webhookDeliveries.claim });
  const [email] = await db.select().from(emails).where(eq(emails.providerMessageId, event.messageId)).limit(1);
  if (!email) {
    const [recorded] = (await runBatch(db, [record])) as unknown[][];
    return recorded!.length === 0 ? DUPLICATE : { duplicate: false, emailId: null, status: null, suppressed: false };
  }

  const patch: Partial<Email> = { updatedAt: new Date() };
  if (event.type === "delivered") Object.assign(patch, { status: "delivered", deliveredAt: event.at });
  if (event.type === "bounced")
    Object.assign(patch, {
      status: "bounced",
      bouncedAt: event.at,
      bounceType: event.bounce,
      error: event.detail ?? null,
    });
  if (event.type === "complained") Object.assign(patch, { status: "complained", complainedAt: event.at });

  const ownsDelivery = sql`EXISTS (SELECT 1 FROM ${webhookDeliveries} WHERE ${webhookDeliveries.source} = ${delivery.source}
    AND ${webhookDeliveries.messageId} = ${delivery.id} AND ${webhookDeliveries.claim} = ${claim})`;
  const update = db
    .update(emails)
    .set(patch)
    .where(and(eq(emails.id, email.id), inArray(emails.status, ALLOWED_FROM[event.type]), ownsDelivery))
    .returning();
  // email.<type> only when this update happened: this delivery's claim, the new status, this time.
  const changed = sql`${ownsDelivery} AND EXISTS (SELECT 1 FROM ${emails} WHERE ${emails.id} = ${email.id}
    AND ${emails.status} = ${patch.status} AND ${emails.updatedAt} = ${patch.updatedAt!.getTime()})`;
  const extra: WebhookEventData = event.type === "bounced" ? { bounceType: event.bounce } : {};
  const outbox = webhookOutboxStatement(
    db,
    { type: `email.${event.type}`, data: emailEventData(email, patch.status!, extra), userId: email.userId },
    changed,
  );
  const [recorded, updatedRows, made] = (await runBatch(db, [record, update, outbox])) as [unknown[], Email[], unknown];
  await enqueueWebhookDeliveries(deps.webhookQueue, [made]);
  if (recorded.length === 0) return DUPLICATE;
  const [updated] = updatedRows;
  const current = updated ?? email;

  let suppressReason: string | null = null;
  if (updated && email.toAddress) {
    if (event.type === "complained") suppressReason = "complaint";
    if (event.type === "bounced" && event.bounce === "hard") suppressReason = "hard_bounce";
    if (event.type === "bounced" && event.bounce === "soft") {
      const count = (await softBounceCount(db, email.toAddress))?.n ?? 0;
      if (count >= SOFT_BOUNCES_BEFORE_SUPPRESSION) suppressReason = "repeated_soft_bounces";
    }
  }
  if (suppressReason) await runBatch(db, [suppressStatement(db, email.toAddress!, suppressReason)]);
  return { duplicate: false, emailId: current.id, status: current.status, suppressed: suppressReason !== null };
}

/** Once a signature has expired its delivery can't be replayed: a day's margin, a bounded delete per run. */
const DELIVERY_ID_KEEP_MS = 24 * 60 * 60 * 1000;
const DELIVERY_PRUNE_LIMIT = 5000;

export async function pruneWebhookDeliveries(db: Database, now = new Date()): Promise<number> {
  const before = now.getTime() - DELIVERY_ID_KEEP_MS;
  const result = await db.run(sql`DELETE FROM ${webhookDeliveries} WHERE rowid IN (
    SELECT rowid FROM ${webhookDeliveries} WHERE ${webhookDeliveries.receivedAt} < ${before} LIMIT ${DELIVERY_PRUNE_LIMIT})`);
  return result.meta.changes ?? 0;
}
