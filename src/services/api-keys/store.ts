import { and, desc, eq, isNull, lt, or } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { type ApiKeyRow, type ApiKeyScope, apiKeys } from "../../db/schema";
import { newId } from "../../lib/ids";
import { type AuditDraft, auditStatements } from "../audit-log";

export const KEY_PREFIX = "hsk_";
/** `hsk_` + 32 random bytes as base64url (43 characters). */
const KEY_SHAPE = /^hsk_[A-Za-z0-9_-]{43}$/;

export const isKeyShaped = (token: string) => KEY_SHAPE.test(token);

const hex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function hashKey(key: string): Promise<string> {
  return `sha256:${hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)))}`;
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `${KEY_PREFIX}${base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")}`;
}

/** A key as it may be shown: never its secret or its hash. */
export type ApiKeyView = {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};

const view = ({ keyHash: _hash, ...row }: ApiKeyRow): ApiKeyView => row;

export type NewApiKey = { name: string; scopes: ApiKeyScope[]; expiresAt?: Date };

/** The key itself is in the answer only: D1 keeps its SHA-256. Audited in the insert's own batch. */
export async function createApiKey(
  db: Database,
  input: NewApiKey & { audit?: AuditDraft },
  now = new Date(),
): Promise<ApiKeyView & { key: string }> {
  const key = randomKey();
  const id = newId();
  const insert = db
    .insert(apiKeys)
    .values({
      id,
      keyHash: await hashKey(key),
      name: input.name,
      scopes: [...new Set(input.scopes)],
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  const results = await runBatch(db, [...auditStatements(db, input.audit, { targetIds: [id] }), insert]);
  const [row] = results.at(-1) as ApiKeyRow[];
  return { ...view(row!), key };
}

export async function listApiKeys(db: Database, options: { includeRevoked: boolean }): Promise<ApiKeyView[]> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(options.includeRevoked ? undefined : isNull(apiKeys.revokedAt))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
  return rows.map(view);
}

/**
 * Null when there is no such key; a key already revoked keeps its first revocation time. One batch
 * with its audit entry (a key that doesn't exist rolls the entry back: the request settles it as failed).
 */
export async function revokeApiKey(
  db: Database,
  id: string,
  options: { audit?: AuditDraft; now?: Date } = {},
): Promise<ApiKeyView | null> {
  const results = await runBatch(db, [
    ...auditStatements(db, options.audit),
    db
      .update(apiKeys)
      .set({ revokedAt: options.now ?? new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))),
    db.select().from(apiKeys).where(eq(apiKeys.id, id)),
  ]);
  const [row] = results.at(-1) as ApiKeyRow[];
  return row ? view(row) : null;
}

export async function findApiKeyRow(db: Database, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

export async function findApiKeyByHash(db: Database, keyHash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
  return row;
}

/** Moves last-used on only when it is more than `everyMs` old: a write at most that often per key. */
export async function touchLastUsed(db: Database, id: string, now: Date, everyMs: number): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiKeys.id, id),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, new Date(now.getTime() - everyMs))),
      ),
    );
}
