import { type SQL, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { personKey } from "../db/person-key";
import { getTemplate, parseTemplateData, templates } from "../emails/registry";
import { getTopic } from "../emails/topics";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { KeyedHash } from "../lib/keyed-hash";
import type { EmailSendMessage } from "../lib/queues";
import { SENDING_STATUSES } from "./send-cap";
import { hashedForms, hashedList } from "./suppressions";
import { topicOptedOutSql } from "./topic-preferences";

export type TransactionalDeps = {
  db: Database;
  hash: KeyedHash;
  emailSends: Queue<EmailSendMessage>;
  maxPerAddressPerDay: number;
};

export type SendEmailInput = {
  template: string;
  to?: string;
  userId?: string;
  data?: Record<string, unknown>;
  topic?: string;
  transactional?: boolean;
  idempotencyKey?: string;
  sendAt?: Date;
};

export const ACCEPT_STATUSES = ["queued", "suppressed", "unsubscribed", "skipped"] as const;
export type Accepted = { emailId: string; status: (typeof ACCEPT_STATUSES)[number]; reason?: string };

/** A queue message waits at most 12 hours; a later sendAt is re-queued by the consumer until due. */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 3600;
const DAY_MS = 24 * 3600 * 1000;

/** What the row says, as the API answers it (a duplicate answers the first call's row as it is now). */
export function acceptedFrom(row: { id: string; status: string; error: string | null }): Accepted {
  const reason = row.error ?? undefined;
  if (row.status === "suppressed" && reason?.includes("unsubscribed"))
    return { emailId: row.id, status: "unsubscribed", reason: "unsubscribed" };
  if (row.status === "suppressed")
    return { emailId: row.id, status: "suppressed", reason: reason?.replace(/^suppressed: /, "") };
  if (row.status === "skipped") return { emailId: row.id, status: "skipped", reason: reason?.split(":")[0] };
  return { emailId: row.id, status: "queued" };
}

/**
 * The contact the email goes to, as SQL rows `k(uid, cid, unsub, addr)`. With `to`: the contact
 * holding that address (else the one keyed by it); with `userId`: by id, externalId or alias.
 */
function recipient(input: SendEmailInput): SQL {
  if (input.to) {
    const to = input.to;
    // The expression index on lower(trim(email)) serves this (addresses compare normalized).
    const byAddress = sql`lower(trim(c.email)) = lower(trim(${to}))`;
    return sql`SELECT c.external_id AS uid, c.id AS cid, c.unsubscribed_at AS unsub, trim(${to}) AS addr
      FROM contacts c WHERE ${byAddress} OR c.external_id = lower(trim(${to}))
      ORDER BY ${byAddress} DESC, c.created_at LIMIT 1`;
  }
  const id = input.userId!;
  return sql`SELECT c.external_id AS uid, c.id AS cid, c.unsubscribed_at AS unsub, c.email AS addr
    FROM contacts c WHERE c.id = ${id} OR c.external_id = ${personKey(id)} ORDER BY c.id = ${id} DESC LIMIT 1`;
}

/** What decides a recipient's fate: the email's topic and class, the time, the per-address daily cap. */
export type FateRules = { topicKey: string | null; transactional: boolean; now: number; max: number };

/**
 * Each recipient's fate, decided in SQL on what D1 holds now, as the CTEs `d, f`: `recipients` are
 * rows `k(uid, cid, unsub, addr, …)`, `hashed` the list of k's hashed address forms (an erased
 * person's suppression). Suppressions always block (the `unsubscribed` reason is an opt-out, not a
 * suppression); unsubscribes and topic opt-outs block unless transactional; the per-address daily
 * cap counts transactional and other sends apart. `f.why` is null when the email may be queued.
 * POST /v1/emails and broadcasts both decide here.
 */
export function fateCtes(recipients: SQL, hashed: SQL, { topicKey, transactional, now, max }: FateRules): SQL {
  const tx = transactional ? 1 : 0;
  const topicOut = topicKey && !transactional ? topicOptedOutSql(sql`k.cid`, topicKey) : sql`0`;
  const statuses = sql.join(
    SENDING_STATUSES.map((s) => sql`${s}`),
    sql`, `,
  );
  return sql`d AS (SELECT k.*,
      (SELECT s.reason FROM suppressions s WHERE s.email IN (lower(trim(k.addr)), ${hashed})
        ORDER BY s.reason = 'unsubscribed' LIMIT 1) AS sup,
      ${topicOut} AS topic_out,
      (SELECT count(*) FROM emails o WHERE lower(o.to_address) = lower(trim(k.addr)) AND o.sent_at > ${now - DAY_MS}
        AND o.transactional = ${tx} AND o.status IN (${statuses})) AS sent_today
    FROM (${recipients}) AS k),
    f AS (SELECT d.*, CASE
        WHEN d.addr IS NULL THEN 'no_address'
        WHEN d.sup IS NOT NULL AND d.sup <> 'unsubscribed' THEN 'suppressed: ' || d.sup
        WHEN ${1 - tx} AND (d.unsub IS NOT NULL OR d.sup = 'unsubscribed') THEN 'unsubscribed'
        WHEN d.topic_out THEN 'topic_unsubscribed'
        WHEN d.sent_today >= ${max} THEN 'rate_limited: ' || ${max} || ' emails already went to this address in the last 24 h'
      END AS why FROM d)`;
}

/** The row status a fate gives: queued, or suppressed/skipped with `why` as its error. */
export const fateStatusSql = sql`CASE WHEN f.why IS NULL THEN 'queued' WHEN f.why LIKE 'suppressed:%' OR f.why = 'unsubscribed' THEN 'suppressed' ELSE 'skipped' END`;

/**
 * Accepts one email in one D1 round trip: makes the recipient's contact when `to` names an address
 * no contact has (unless it is suppressed), decides and inserts the row (a repeated idempotency key
 * inserts nothing), and reads back the row the key holds. Then queues it when this call made it.
 */
export async function sendEmail(deps: TransactionalDeps, input: SendEmailInput): Promise<Accepted> {
  const { db } = deps;
  if (!templates.has(input.template))
    throw new AppError("VALIDATION_ERROR", `template: unknown template "${input.template}"`);
  const template = getTemplate(input.template);
  const data = parseTemplateData(template, input.data ?? {});
  const topicKey = input.topic ?? template.topic ?? null;
  if (topicKey) getTopic(topicKey);
  const transactional = input.transactional === true || template.transactional === true;
  const hashed = hashedList(input.to ? await hashedForms(deps.hash, input.to) : null);
  const id = newId();
  const now = Date.now();
  const max = deps.maxPerAddressPerDay;

  const blockedAddress = sql`EXISTS (SELECT 1 FROM suppressions s
    WHERE s.email IN (lower(trim(${input.to ?? null})), ${hashed}) AND s.reason <> 'unsubscribed')`;
  const makeContact = input.to
    ? [
        db.run(sql`INSERT INTO contacts (id, external_id, email, properties, created_at, updated_at)
          SELECT ${newId()}, lower(trim(${input.to})), trim(${input.to}), '{}', ${now}, ${now}
          WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.email IN (trim(${input.to}), lower(trim(${input.to}))))
            AND NOT ${blockedAddress}
          ON CONFLICT (external_id) DO NOTHING`),
      ]
    : [];
  const rules = { topicKey, transactional, now, max };
  const insert = db.run(sql`WITH ${fateCtes(recipient(input), hashed, rules)}
    INSERT INTO emails (id, user_id, to_address, template_key, props, status, error, topic_key, transactional,
      idempotency_key, send_at, suppressed_at, created_at, updated_at)
    SELECT ${id}, f.uid, CASE WHEN ${input.to ?? null} IS NOT NULL OR f.why IS NOT NULL THEN f.addr END,
      ${input.template}, ${JSON.stringify(data)}, ${fateStatusSql},
      f.why, ${topicKey}, ${transactional ? 1 : 0}, ${input.idempotencyKey ?? null}, ${input.sendAt?.getTime() ?? null},
      CASE WHEN f.why LIKE 'suppressed:%' OR f.why = 'unsubscribed' THEN ${now} END, ${now}, ${now}
    FROM f WHERE true
    ON CONFLICT DO NOTHING`);
  const readBack = db.all(sql`SELECT id, status, error FROM emails
    WHERE ${input.idempotencyKey ? sql`idempotency_key = ${input.idempotencyKey}` : sql`id = ${id}`} LIMIT 1`);
  const suppression = db.all(sql`SELECT s.reason FROM suppressions s
    WHERE s.email IN (lower(trim(${input.to ?? null})), ${hashed}) ORDER BY s.reason = 'unsubscribed' LIMIT 1`);
  const results = (await runBatch(db, [...makeContact, insert, readBack, suppression])) as unknown[];
  const [row] = results.at(-2) as Array<{ id: string; status: string; error: string | null }>;
  if (!row) {
    const [blocked] = results.at(-1) as Array<{ reason: string }>;
    if (input.to && blocked) return { emailId: id, status: "suppressed", reason: blocked.reason };
    throw new AppError("NOT_FOUND", "Contact not found");
  }
  if (row.id === id && row.status === "queued") await enqueue(deps, id, input.sendAt, now);
  return acceptedFrom(row);
}

/** Hands the new row to the email-send queue; if that fails, the row is marked failed (resendable). */
async function enqueue(deps: TransactionalDeps, emailId: string, sendAt: Date | undefined, now: number) {
  const delay = sendAt ? Math.ceil((sendAt.getTime() - now) / 1000) : 0;
  try {
    await deps.emailSends.send(
      { emailId },
      delay > 0 ? { delaySeconds: Math.min(delay, MAX_QUEUE_DELAY_SECONDS) } : undefined,
    );
  } catch (error) {
    await deps.db.run(sql`UPDATE emails SET status = 'failed', failed_at = ${now}, updated_at = ${now},
      error = 'Could not be queued' WHERE id = ${emailId} AND status = 'queued'`);
    throw error;
  }
}
