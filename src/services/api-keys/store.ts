import { and, desc, eq, isNull, lt, or } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type ApiKeyRow, type ApiKeyScope, apiKeys } from "../../db/schema";
import { newId } from "../../lib/ids";

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

/** The key itself is in the answer only: D1 keeps its SHA-256. */
export async function createApiKey(
  db: Database,
  input: NewApiKey,
  now = new Date(),
): Promise<ApiKeyView & { key: string }> {
  const key = randomKey();
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId(),
      keyHash: await hashKey(key),
      name: input.name,
      scopes: [...new Set(input.scopes)],
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
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

/** Null when there is no such key; a key already revoked keeps its first revocation time. */
export async function revokeApiKey(db: Database, id: string, now = new Date()): Promise<ApiKeyView | null> {
  await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
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
