import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const API_KEY_SCOPES = ["ingest", "read", "operate", "admin"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const AUDIT_OUTCOMES = ["started", "ok", "failed", "forbidden"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * API keys handed out to scripts, CI jobs and operators. Only the SHA-256 of the key is kept: the
 * key is 256 random bits, so the digest can't be searched back to it (a keyed hash would add
 * nothing, and would tie every key to ERASURE_HASH_SECRET).
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    /** `sha256:<hex>` of the whole key (`hsk_…`). */
    keyHash: text("key_hash").notNull().unique(),
    name: text("name").notNull(),
    /** JSON array of scopes. */
    scopes: text("scopes", { mode: "json" }).$type<ApiKeyScope[]>().notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    /** Written at most once a minute per key, after the response (never on the request's path). */
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
  },
  // The list page's order (newest first).
  (t) => [index("api_keys_created_idx").on(t.createdAt)],
);

/**
 * One row per admin request that changes something (and per refused attempt at one). Ids only:
 * person ids as keyed hashes, never addresses or properties, so an erasure has nothing to chase here.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    /** uuidv7: sorts by time, so it is the keyset cursor. */
    id: text("id").primaryKey(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    keyId: text("key_id").notNull(),
    keyName: text("key_name").notNull(),
    method: text("method").notNull(),
    route: text("route").notNull(),
    action: text("action").notNull(),
    targetIds: text("target_ids", { mode: "json" }).$type<string[]>().notNull(),
    counts: text("counts", { mode: "json" }).$type<Record<string, number>>().notNull(),
    outcome: text("outcome", { enum: AUDIT_OUTCOMES }).notNull(),
    status: integer("status"),
    requestId: text("request_id").notNull(),
  },
  // The read endpoint filters by key or action and pages newest first by id; retention by time.
  (t) => [
    index("audit_log_key_idx").on(t.keyId, t.id),
    index("audit_log_action_idx").on(t.action, t.id),
    index("audit_log_at_idx").on(t.at),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type AuditEntryRow = typeof auditLog.$inferSelect;
