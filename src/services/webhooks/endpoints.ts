import { desc, eq } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import {
  type WebhookEndpointRow,
  type WebhookEventType,
  webhookAttempts,
  webhookEndpoints,
  webhookMessages,
} from "../../db/schema";
import { AppError, notFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { type UrlPolicy, webhookUrlProblem } from "../../lib/webhook-url";

/** How long the old secret keeps signing after a rotation: receivers have a day to switch. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** Standard Webhooks' secret format: `whsec_` + base64 of 24 random bytes. */
function newSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;
}

export type WebhookEndpointView = Omit<WebhookEndpointRow, "secret" | "previousSecret">;
export type WebhookEndpointWithSecret = WebhookEndpointView & { secret: string };

const view = ({ secret: _s, previousSecret: _p, ...row }: WebhookEndpointRow): WebhookEndpointView => row;

function checkUrl(url: string, policy: UrlPolicy) {
  const problem = webhookUrlProblem(url, policy);
  if (problem) throw new AppError("VALIDATION_ERROR", problem);
}

export type NewWebhookEndpoint = { url: string; events: WebhookEventType[]; description?: string };

export async function createWebhookEndpoint(
  db: Database,
  input: NewWebhookEndpoint,
  policy: UrlPolicy,
): Promise<WebhookEndpointWithSecret> {
  checkUrl(input.url, policy);
  const now = new Date();
  const row: WebhookEndpointRow = {
    id: newId(),
    url: input.url,
    description: input.description ?? null,
    events: [...new Set(input.events)],
    enabled: true,
    secret: newSecret(),
    previousSecret: null,
    previousSecretUntil: null,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(webhookEndpoints).values(row);
  return { ...view(row), secret: row.secret };
}

export async function listWebhookEndpoints(db: Database): Promise<WebhookEndpointView[]> {
  const rows = await db.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.id)).limit(500);
  return rows.map(view);
}

/** The row with its secrets: for signing (services only). */
export async function webhookEndpointRow(db: Database, id: string): Promise<WebhookEndpointRow> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).limit(1);
  if (!row) throw notFound("Webhook endpoint");
  return row;
}

export const getWebhookEndpoint = async (db: Database, id: string) => view(await webhookEndpointRow(db, id));

export type WebhookEndpointPatch = { url?: string; events?: WebhookEventType[]; enabled?: boolean };

export async function updateWebhookEndpoint(
  db: Database,
  id: string,
  patch: WebhookEndpointPatch,
  policy: UrlPolicy,
): Promise<WebhookEndpointView> {
  if (patch.url !== undefined) checkUrl(patch.url, policy);
  const set = {
    ...patch,
    ...(patch.events ? { events: [...new Set(patch.events)] } : {}),
    updatedAt: new Date(),
  };
  const [row] = await db.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, id)).returning();
  if (!row) throw notFound("Webhook endpoint");
  return view(row);
}

/** The endpoint, its pending deliveries and its attempt history go together. */
export async function deleteWebhookEndpoint(db: Database, id: string): Promise<void> {
  const [deleted] = (await runBatch(db, [
    db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id }),
    db.delete(webhookMessages).where(eq(webhookMessages.endpointId, id)),
    db.delete(webhookAttempts).where(eq(webhookAttempts.endpointId, id)),
  ])) as [unknown[]];
  if (deleted.length === 0) throw notFound("Webhook endpoint");
}

/** A new secret signs from now on; the old one signs beside it for SECRET_OVERLAP_MS. */
export async function rotateWebhookSecret(
  db: Database,
  id: string,
  now = new Date(),
): Promise<WebhookEndpointWithSecret> {
  const current = await webhookEndpointRow(db, id);
  const secret = newSecret();
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      secret,
      previousSecret: current.secret,
      previousSecretUntil: new Date(now.getTime() + SECRET_OVERLAP_MS),
      updatedAt: now,
    })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  if (!row) throw notFound("Webhook endpoint");
  return { ...view(row), secret };
}

/** The secrets that sign a delivery now: the current one, and the previous one during its overlap. */
export function signingSecrets(row: WebhookEndpointRow, now: number): string[] {
  const previous = row.previousSecret && (row.previousSecretUntil?.getTime() ?? 0) > now ? [row.previousSecret] : [];
  return [row.secret, ...previous];
}
