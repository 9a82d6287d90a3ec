import { and, desc, eq, gte, lt, lte, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Email, emails } from "../db/schema";
import { keysetPage } from "../lib/sql";
import { normalizedAddress } from "./suppressions";

export type EmailListQuery = {
  status?: Email["status"];
  templateKey?: string;
  to?: string;
  from?: Date;
  until?: Date;
  limit: number;
  cursor?: string;
};

/** Newest first, keyset-paged; `from`/`until` bound the creation time. */
export async function listEmails(db: Database, query: EmailListQuery) {
  const rows = await db
    .select({
      id: emails.id,
      userId: emails.userId,
      toAddress: emails.toAddress,
      templateKey: emails.templateKey,
      subject: emails.subject,
      status: emails.status,
      provider: emails.provider,
      providerMessageId: emails.providerMessageId,
      error: emails.error,
      journeyKey: emails.journeyKey,
      enrollmentId: emails.enrollmentId,
      resentFromId: emails.resentFromId,
      createdAt: emails.createdAt,
      sentAt: emails.sentAt,
    })
    .from(emails)
    .where(
      and(
        query.status ? eq(emails.status, query.status) : undefined,
        query.templateKey ? eq(emails.templateKey, query.templateKey) : undefined,
        query.to ? sql`lower(${emails.toAddress}) = ${normalizedAddress(query.to)}` : undefined,
        query.from ? gte(emails.createdAt, query.from) : undefined,
        query.until ? lte(emails.createdAt, query.until) : undefined,
        query.cursor ? lt(emails.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(emails.id))
    .limit(query.limit + 1);
  const { page, nextCursor } = keysetPage(rows, query.limit);
  return { emails: page, nextCursor };
}
