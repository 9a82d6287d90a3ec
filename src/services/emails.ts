import { and, eq, sql } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { personKey } from "../db/person-key";
import { type Contact, contacts, type Email, emails, type Properties } from "../db/schema";
import { getTemplate, renderTemplate, sendRules, TOPIC_UNSUBSCRIBED } from "../emails/registry";
import type { RenderedEmail } from "../emails/template";
import { addTracking, trackingOf } from "../emails/tracking";
import { notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import type { KeyedHash } from "../lib/keyed-hash";
import type { WebhookDeliveryMessage } from "../lib/queues";
import { signUnsubscribeToken } from "../lib/tokens";
import { type EmailProvider, ProviderError } from "../providers/email";
import { isRunning } from "./enrollments";
import { UNSUBSCRIBED_REASON } from "./preferences";
import { claimSendSlot } from "./send-cap";
import { suppressionOf } from "./suppressions";
import { subscribedTo } from "./topic-preferences";
import { emailEventData } from "./webhooks/events";
import { enqueueWebhookDeliveries, webhookOutboxStatement } from "./webhooks/outbox";

export type DeliveryDeps = {
  db: Database;
  hash: KeyedHash;
  provider: EmailProvider;
  from: string;
  publicBaseUrl: string;
  tokenSecret: string;
  /** EMAIL_MAX_PER_ADDRESS_PER_DAY: emails handed to the provider for one address per rolling 24 h. */
  maxPerAddressPerDay: number;
  /** `email.sent` goes to the webhook outbox in the batch that marks the email sent. */
  webhookQueue: Queue<WebhookDeliveryMessage>;
};

export async function getEmail(db: Database, id: string): Promise<Email> {
  const [row] = await db.select().from(emails).where(eq(emails.id, id)).limit(1);
  if (!row) throw notFound("Email");
  return row;
}

export type JourneyEmailInput = {
  enrollmentId: string;
  journeyKey: string;
  stepKey: string;
  userId: string;
  templateKey: string;
  props: Properties;
};

/**
 * The email row of one journey step; a retried step gets the row it made the first time. Made only
 * while the enrollment exists: null once erasure deleted it (erasure deletes enrollments before
 * emails, so a step in flight can't leave a row behind).
 */
export async function journeyEmailRow(db: Database, input: JourneyEmailInput): Promise<Email | null> {
  const now = new Date();
  const at = now.getTime();
  await db.run(sql`INSERT INTO emails
      (id, user_id, enrollment_id, journey_key, step_key, template_key, props, status, created_at, updated_at)
    SELECT ${newId()}, ${input.userId}, id, ${input.journeyKey}, ${input.stepKey}, ${input.templateKey},
      ${JSON.stringify(input.props)}, 'queued', ${at}, ${at}
    FROM enrollments WHERE id = ${input.enrollmentId}
    ON CONFLICT (enrollment_id, step_key) DO NOTHING`);
  const [row] = await db
    .select()
    .from(emails)
    .where(and(eq(emails.enrollmentId, input.enrollmentId), eq(emails.stepKey, input.stepKey)))
    .limit(1);
  return row ?? null;
}

/** The sent mark and its `email.sent` outbox rows: one batch, so one D1 round trip as before. */
async function markSent(deps: DeliveryDeps, email: Email, patch: Partial<Email>): Promise<Email> {
  const { db } = deps;
  const [rows, outbox] = (await runBatch(db, [
    db
      .update(emails)
      .set({ ...patch, status: "sent", updatedAt: new Date() })
      .where(eq(emails.id, email.id))
      .returning(),
    webhookOutboxStatement(db, { type: "email.sent", data: emailEventData(email, "sent"), userId: email.userId }),
  ])) as [Email[], unknown];
  await enqueueWebhookDeliveries(deps.webhookQueue, [outbox]);
  return rows[0]!;
}

async function setStatus(db: Database, id: string, patch: Partial<Email>): Promise<Email> {
  const [row] = await db
    .update(emails)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(emails.id, id))
    .returning();
  return row!;
}

/** RFC 8058: a mail client's one-click POST to the link unsubscribes from the email's topic. */
function unsubscribeHeaders(url: string): Record<string, string> {
  return { "List-Unsubscribe": `<${url}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
}

/** The preference centre link, naming the email's topic; none in a transactional email of no topic. */
export async function preferenceUrl(
  deps: Pick<DeliveryDeps, "publicBaseUrl" | "tokenSecret">,
  contactId: string,
  rules: ReturnType<typeof sendRules>,
) {
  if (rules.transactional && !rules.topicKey) return null;
  const token = await signUnsubscribeToken(deps.tokenSecret, contactId, Date.now(), rules.topicKey ?? undefined);
  return `${deps.publicBaseUrl}/v1/email/unsubscribe?token=${token}`;
}

/**
 * Null once the email holds one of its address's sends for the day; else the email as it is now:
 * `skipped` (over the cap), or whatever another delivery of it already made it.
 */
async function holdSendSlot(deps: DeliveryDeps, email: Email, to: string, now: Date): Promise<Email | null> {
  const { db, maxPerAddressPerDay: max } = deps;
  if (await claimSendSlot(db, email, to, max, now)) return null;
  const current = await getEmail(db, email.id);
  if (current.status !== "queued") return current;
  const error = `rate_limited: ${max} emails already went to this address in the last 24 h`;
  return setStatus(db, email.id, { status: "skipped", toAddress: to, error });
}

/** The contact an email goes to: a journey started before a merge still names the merged id. */
async function personOf(db: Database, userId: string) {
  const [contact] = await db
    .select()
    .from(contacts)
    .where(eq(contacts.externalId, personKey(userId)))
    .limit(1);
  return contact;
}

/** The template rendered, its links and open pixel tracked per the template's switches (no D1 round trip). */
async function renderTracked(deps: DeliveryDeps, email: Email, unsubscribeUrl: string | null) {
  const rendered = await renderTemplate(email.templateKey!, email.props, { unsubscribeUrl });
  rendered.html = await addTracking(rendered.html, {
    emailId: email.id,
    baseUrl: deps.publicBaseUrl,
    secret: deps.tokenSecret,
    ...trackingOf(getTemplate(email.templateKey!)),
    keep: (url) => url.startsWith(`${deps.publicBaseUrl}/v1/email/unsubscribe`),
  });
  return rendered;
}

type Recipient = { contact: Contact; to: string; rules: ReturnType<typeof sendRules>; now: Date };

/**
 * The email as blocked, or null when it may go: suppressions always block; unsubscribes (and the
 * `unsubscribed` suppression they leave) and topic opt-outs block unless it is transactional.
 */
async function optOutBlock(deps: DeliveryDeps, email: Email, { contact, to, rules, now }: Recipient) {
  const { db } = deps;
  const block = (reason: string) => setStatus(db, email.id, { status: "suppressed", suppressedAt: now, error: reason });
  if (!rules.transactional && contact.unsubscribedAt) return block("Contact unsubscribed");
  const suppression = await suppressionOf(db, deps.hash, to);
  if (suppression && !(rules.transactional && suppression.reason === UNSUBSCRIBED_REASON))
    return block(`Address suppressed: ${suppression.reason}`);
  if (!email.templateKey)
    return setStatus(db, email.id, { status: "failed", failedAt: now, error: "Email has no template" });
  if (!rules.transactional && rules.topicKey && !(await subscribedTo(db, contact.id, rules.topicKey)))
    return setStatus(db, email.id, { status: "skipped", toAddress: to, error: TOPIC_UNSUBSCRIBED });
  return null;
}

/**
 * Sends a queued email once: re-checks the journey (an exited enrollment sends nothing), the
 * address (unsubscribed or suppressed → `suppressed`, topic opted out → `skipped`), the per-address daily cap (over it →
 * `skipped`, resendable later), renders the template, and calls the provider with the row id as
 * idempotency key. Retryable provider errors are thrown for the caller (workflow step or queue)
 * to retry; others mark the email `failed`.
 */
export async function deliverEmail(deps: DeliveryDeps, emailId: string): Promise<Email> {
  const { db } = deps;
  const email = await getEmail(db, emailId);
  if (email.status !== "queued") return email;
  const now = new Date();
  const block = (reason: string) => setStatus(db, email.id, { status: "suppressed", suppressedAt: now, error: reason });

  if (email.enrollmentId && !(await isRunning(db, email.enrollmentId)))
    return block("Journey enrollment ended before sending");
  const contact = await personOf(db, email.userId);
  const to = email.toAddress ?? contact?.email ?? null;
  if (!contact || !to)
    return setStatus(db, email.id, { status: "failed", failedAt: now, error: "Contact has no email address" });
  const rules = sendRules(email);
  const optedOut = await optOutBlock(deps, email, { contact, to, rules, now });
  if (optedOut) return optedOut;
  const overCap = await holdSendSlot(deps, email, to, now);
  if (overCap) return overCap;

  const unsubscribeUrl = await preferenceUrl(deps, contact.id, rules);
  let rendered: RenderedEmail;
  try {
    rendered = await renderTracked(deps, email, unsubscribeUrl);
  } catch (error) {
    return setStatus(db, email.id, {
      status: "failed",
      failedAt: now,
      sentAt: null,
      toAddress: to,
      error: (error as Error).message,
    });
  }

  try {
    const sent = await deps.provider.send({
      idempotencyKey: email.id,
      from: deps.from,
      to,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      headers: rules.transactional || !unsubscribeUrl ? {} : unsubscribeHeaders(unsubscribeUrl),
    });
    return markSent(deps, email, {
      sentAt: new Date(),
      toAddress: to,
      subject: rendered.subject,
      provider: deps.provider.name,
      providerMessageId: sent.messageId,
      html: sent.keepsRenderedCopy ? rendered.html : null,
      text: sent.keepsRenderedCopy ? rendered.text : null,
      error: null,
    });
  } catch (error) {
    if (error instanceof ProviderError && !error.retryable) {
      return setStatus(db, email.id, {
        status: "failed",
        failedAt: new Date(),
        sentAt: null, // the claim's: nothing was sent
        toAddress: to,
        subject: rendered.subject,
        provider: deps.provider.name,
        error: error.message,
      });
    }
    // Gives the slot back: the retry claims one again, for the address current then.
    await setStatus(db, email.id, { error: (error as Error).message, toAddress: email.toAddress, sentAt: null });
    throw error;
  }
}
