import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type Broadcast, emails } from "../../db/schema";
import { newId } from "../../lib/ids";
import type { KeyedHash } from "../../lib/keyed-hash";
import type { SegmentRow } from "../segments";
import { hashedForms } from "../suppressions";
import { fateCtes, fateStatusSql } from "../transactional-emails";

export const SKIP_KINDS = ["suppressed", "unsubscribed", "topic_opt_out", "no_address", "rate_limited"] as const;
export type SkipKind = (typeof SKIP_KINDS)[number];
/** Every count a broadcast reports besides `targeted`. */
export type Outcome = "queued" | "sent" | "failed" | "cancelled" | SkipKind;

/** The skip reason an email row was refused or dropped for (broadcast counts; see `outcomeSql`). */
export const CANCELLED_REASON = "broadcast_cancelled";

/**
 * An email row's outcome for a broadcast's counts: the acceptance-time reasons (fateCtes) and the
 * send-time ones (services/emails.ts: delivery re-checks every rule) fall into the same kinds.
 */
export const outcomeSql = sql`CASE
    WHEN status = 'queued' THEN 'queued'
    WHEN status IN ('sent', 'delivered', 'bounced', 'complained') THEN 'sent'
    WHEN error = ${CANCELLED_REASON} THEN 'cancelled'
    WHEN error IN ('no_address', 'Contact has no email address') THEN 'no_address'
    WHEN status = 'failed' THEN 'failed'
    WHEN error LIKE 'rate_limited%' THEN 'rate_limited'
    WHEN error = 'topic_unsubscribed' THEN 'topic_opt_out'
    WHEN error IN ('unsubscribed', 'Contact unsubscribed') OR error LIKE '%: unsubscribed' THEN 'unsubscribed'
    WHEN status = 'suppressed' THEN 'suppressed'
    ELSE 'failed' END`;

/** The same kinds for a fate decided but not written (a dry run). */
export function outcomeOfWhy(why: string | null): Outcome {
  if (why === null) return "queued";
  if (why === "no_address") return "no_address";
  if (why.startsWith("rate_limited")) return "rate_limited";
  if (why === "topic_unsubscribed") return "topic_opt_out";
  if (why === "unsubscribed") return "unsubscribed";
  return "suppressed";
}

export type Fate = { cid: string; uid: string; addr: string | null; why: string | null };

/**
 * The page's contacts as fateCtes recipients, from one JSON parameter (no 100-parameter tax):
 * `[contactId, keyedHash, legacyHash, newEmailId]` per contact.
 */
async function recipientsSql(hash: KeyedHash, rows: SegmentRow[]) {
  const forms = await Promise.all(rows.map((row) => (row.email ? hashedForms(hash, row.email) : null)));
  const json = JSON.stringify(
    rows.map((row, i) => [row.id, forms[i]?.hashed[0] ?? null, forms[i]?.hashed[1] ?? null, newId()]),
  );
  const at = (i: number) => sql.raw(`json_extract(j.value, '$[${i}]')`);
  return sql`SELECT c.external_id AS uid, c.id AS cid, c.unsubscribed_at AS unsub, c.email AS addr,
      ${at(1)} AS h1, ${at(2)} AS h2, ${at(3)} AS eid
    FROM json_each(${json}) j JOIN contacts c ON c.id = ${at(0)}`;
}

/** What a page's emails are made of. */
export type BroadcastContent = Pick<Broadcast, "id" | "templateKey" | "data" | "topicKey">;

const rulesOf = (broadcast: BroadcastContent, now: Date, max: number) => ({
  topicKey: broadcast.topicKey,
  transactional: false,
  now: now.getTime(),
  max,
});

/**
 * One statement: an email row per page contact, queued or refused with its reason exactly as
 * POST /v1/emails decides. The (broadcast_id, contact_id) unique index makes a repeat insert nothing.
 */
export async function insertPageEmails(
  db: Database,
  hash: KeyedHash,
  page: { broadcast: BroadcastContent; rows: SegmentRow[]; max: number; now: Date },
) {
  const { broadcast, now } = page;
  const at = now.getTime();
  const ctes = fateCtes(await recipientsSql(hash, page.rows), sql`k.h1, k.h2`, rulesOf(broadcast, now, page.max));
  // Wrapped: a builder returned from an async function would be awaited (run) right here.
  return {
    statement: db.all<{ id: string; status: string }>(sql`WITH ${ctes}
    INSERT INTO emails (id, user_id, to_address, template_key, props, status, error, topic_key, transactional,
      broadcast_id, contact_id, suppressed_at, created_at, updated_at)
    SELECT f.eid, f.uid, CASE WHEN f.why IS NOT NULL THEN f.addr END, ${broadcast.templateKey},
      ${JSON.stringify(broadcast.data)}, ${fateStatusSql}, f.why, ${broadcast.topicKey}, 0, ${broadcast.id}, f.cid,
      CASE WHEN f.why LIKE 'suppressed:%' OR f.why = 'unsubscribed' THEN ${at} END, ${at}, ${at}
    FROM f WHERE true
    ON CONFLICT DO NOTHING
    RETURNING id, status`),
  };
}

/** The fates a page would get, written nowhere (a dry run). */
export async function previewFates(
  db: Database,
  hash: KeyedHash,
  page: { broadcast: BroadcastContent; rows: SegmentRow[]; max: number; now: Date },
): Promise<Fate[]> {
  if (page.rows.length === 0) return [];
  const ctes = fateCtes(
    await recipientsSql(hash, page.rows),
    sql`k.h1, k.h2`,
    rulesOf(page.broadcast, page.now, page.max),
  );
  return db.all<Fate>(sql`WITH ${ctes} SELECT f.cid, f.uid, f.addr, f.why FROM f ORDER BY f.cid`);
}

/** The queued, not yet claimed emails of a committed page (contacts after `start` up to `end`). */
export async function pageQueuedEmailIds(db: Database, broadcastId: string, span: { start: string; end: string }) {
  const rows = await db
    .select({ id: emails.id })
    .from(emails)
    .where(
      and(
        eq(emails.broadcastId, broadcastId),
        sql`${emails.contactId} > ${span.start} AND ${emails.contactId} <= ${span.end}`,
        eq(emails.status, "queued"),
        sql`${emails.sentAt} IS NULL`,
      ),
    )
    .orderBy(emails.contactId);
  return rows.map((r) => r.id);
}
