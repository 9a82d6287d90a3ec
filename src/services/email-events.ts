import { and, eq, inArray } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { type Email, type EmailStatus, emails } from "../db/schema";
import { SOFT_BOUNCES_BEFORE_SUPPRESSION, softBounceCount, suppressStatement } from "./suppressions";

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

export type AppliedEvent = { emailId: string | null; status: EmailStatus | null; suppressed: boolean };

/**
 * Applies a provider's delivery event to the email it concerns. A hard bounce or a complaint
 * suppresses the address, and so does the third soft bounce.
 */
export async function applyProviderEvent(db: Database, event: ProviderEvent): Promise<AppliedEvent> {
  const [email] = await db.select().from(emails).where(eq(emails.providerMessageId, event.messageId)).limit(1);
  if (!email) return { emailId: null, status: null, suppressed: false };

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

  const [updated] = await db
    .update(emails)
    .set(patch)
    .where(and(eq(emails.id, email.id), inArray(emails.status, ALLOWED_FROM[event.type])))
    .returning();
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
  return { emailId: current.id, status: current.status, suppressed: suppressReason !== null };
}
