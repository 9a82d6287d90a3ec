import { and, asc, eq, gte, inArray, lte, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { contacts, type Email, emails, suppressions } from "../db/schema";
import { TOPIC_UNSUBSCRIBED } from "../emails/registry";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { type EmailSendMessage, sendAll } from "../lib/queues";
import { chunkForParams, paramsPerRow } from "../lib/sql";
import { type AuditDraft, auditStatements } from "./audit-log";
import { getEmail } from "./emails";

export type EmailResendDeps = { db: Database; emailSends: Queue<EmailSendMessage> };

/** `skipped` is an email held back by the per-address daily cap: resending it is the way to send it later. */
export const RESENDABLE = ["failed", "bounced", "skipped"] as const;

export function assertResendable(email: Email): void {
  if (!(RESENDABLE as readonly string[]).includes(email.status)) {
    throw new AppError("CONFLICT", `Only failed, bounced or skipped emails can be resent; this one is ${email.status}`);
  }
  if (!email.templateKey) throw new AppError("CONFLICT", "The email has no templateKey, so it cannot be re-rendered");
}

/** A new queued email re-rendered from the original's template and props, linked to it. */
export function resendRow(original: Email, now: Date): typeof emails.$inferInsert {
  return {
    id: newId(),
    userId: original.userId,
    templateKey: original.templateKey,
    props: original.props,
    journeyKey: original.journeyKey,
    topicKey: original.topicKey,
    transactional: original.transactional,
    resentFromId: original.id,
    status: "queued",
    createdAt: now,
    updatedAt: now,
  };
}

const enqueueSends = (queue: Queue<EmailSendMessage>, emailIds: string[]) =>
  sendAll(
    queue,
    emailIds.map((emailId) => ({ emailId })),
  );

/** Resends one failed, bounced or skipped email through the email-send queue (suppression is checked when it is sent). */
export async function resendEmail(deps: EmailResendDeps, emailId: string, options: { audit?: AuditDraft } = {}) {
  const { db } = deps;
  const original = await getEmail(db, emailId);
  assertResendable(original);
  const row = resendRow(original, new Date());
  await runBatch(db, [...auditStatements(db, options.audit, { targetIds: [row.id!] }), db.insert(emails).values(row)]);
  await enqueueSends(deps.emailSends, [row.id]);
  return { emailId: row.id, status: "queued" as const };
}

export type BulkResendInput = {
  filter: { status?: (typeof RESENDABLE)[number]; templateKey?: string; journeyKey?: string; from?: Date; to?: Date };
  limit: number;
  dryRun: boolean;
  audit?: AuditDraft;
};

export type BulkResendOutcome = "resent" | "would_resend" | "unsubscribed" | "suppressed" | "already_resent";
export type BulkResendResult = { emailId: string; outcome: BulkResendOutcome; newEmailId?: string };

/**
 * "Retry the failed recipients": every matching failed/bounced/skipped email with a template is resent,
 * except to unsubscribed contacts, suppressed addresses (checked on the address it would go to
 * now), and emails already resent — so running it twice doesn't send twice.
 */
export async function bulkResend(deps: EmailResendDeps, input: BulkResendInput) {
  const { db } = deps;
  const { filter } = input;
  const candidates = await db
    .select({
      email: emails,
      unsubscribedAt: contacts.unsubscribedAt,
      suppression: suppressions.reason,
      alreadyResent: sql<number>`EXISTS (SELECT 1 FROM emails AS copy WHERE copy.resent_from_id = ${emails.id})`,
    })
    .from(emails)
    .leftJoin(contacts, eq(contacts.externalId, emails.userId))
    .leftJoin(suppressions, eq(suppressions.email, sql`lower(trim(coalesce(${contacts.email}, ${emails.toAddress})))`))
    .where(
      and(
        filter.status ? eq(emails.status, filter.status) : inArray(emails.status, [...RESENDABLE]),
        sql`${emails.templateKey} IS NOT NULL`,
        filter.templateKey ? eq(emails.templateKey, filter.templateKey) : undefined,
        filter.journeyKey ? eq(emails.journeyKey, filter.journeyKey) : undefined,
        filter.from ? gte(emails.createdAt, filter.from) : undefined,
        filter.to ? lte(emails.createdAt, filter.to) : undefined,
      ),
    )
    .orderBy(asc(emails.createdAt), asc(emails.id))
    .limit(input.limit);

  const now = new Date();
  const toResend: Array<typeof emails.$inferInsert> = [];
  const results: BulkResendResult[] = candidates.map(({ email, unsubscribedAt, suppression, alreadyResent }) => {
    if (alreadyResent) return { emailId: email.id, outcome: "already_resent" };
    // A topic opt-out is an unsubscribe from that topic: a copy would only be skipped again.
    if (unsubscribedAt || email.error === TOPIC_UNSUBSCRIBED) return { emailId: email.id, outcome: "unsubscribed" };
    if (suppression) return { emailId: email.id, outcome: "suppressed" };
    if (input.dryRun) return { emailId: email.id, outcome: "would_resend" };
    const row = resendRow(email, now);
    toResend.push(row);
    return { emailId: email.id, outcome: "resent", newEmailId: row.id };
  });

  const resent = results.filter((r) => r.outcome === "resent" || r.outcome === "would_resend").length;
  const counts = { resent, skipped: results.length - resent };
  await runBatch(db, [
    ...auditStatements(db, input.audit, { counts }),
    ...chunkForParams(toResend, paramsPerRow(emails)).map((chunk) => db.insert(emails).values(chunk)),
  ]);
  await enqueueSends(
    deps.emailSends,
    toResend.map((row) => row.id!),
  );
  return { ...counts, results };
}
