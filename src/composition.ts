import { createDb, type Database } from "./db/client";
import { type KeyedHash, keyedHash } from "./lib/keyed-hash";
import type { BackfillPageDeps } from "./pipeline/backfill-page";
import type { BatchEnrollDeps } from "./pipeline/batch-enroll";
import type { EventProcessingDeps, PostHogEmailPolicy } from "./pipeline/ingest";
import type { BufferDeps } from "./pipeline/ingest-buffer";
import type { ReplayDeps } from "./pipeline/replay";
import { providerFromEnv } from "./providers/email";
import type { DeadLetterRetryDeps, RetryQueues } from "./services/dead-letter-retry";
import type { EmailResendDeps } from "./services/email-resends";
import type { DeliveryDeps } from "./services/emails";
import { parseScannerRanges } from "./services/engagement-machine";
import type { ErasureDeps } from "./services/erasure";
import type { MergeDeps } from "./services/identity/merge";
import { DEFAULT_CHUNKS_PER_INVOCATION } from "./services/imports/chunk";
import type { ImportDeps } from "./services/imports/jobs";
import type { PostHogSettings } from "./services/posthog/map";
import type { PreferenceDeps } from "./services/preferences";
import type { RetentionDeps } from "./services/retention";
import type { TransactionalDeps } from "./services/transactional-emails";
import { DEFAULT_RETRY_SCHEDULE, DEFAULT_TIMEOUT_MS, type WebhookDeliveryDeps } from "./services/webhooks/deliver";
import type { WebhookEmitDeps } from "./services/webhooks/outbox";
import type { WorkflowDeps } from "./services/workflow-instances";

const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;
const DEFAULT_MAX_PER_ADDRESS_PER_DAY = 10;

const positiveInt = (value: string | undefined, fallback: number) => {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};
const DEFAULT_EVENT_RETENTION_DAYS = 400;
const DEFAULT_EMAIL_BODY_RETENTION_DAYS = 30;
const DEFAULT_AUDIT_RETENTION_DAYS = 400;

const EMAIL_POLICIES: PostHogEmailPolicy[] = ["none", "fill", "replace"];
/** An unknown value is the safe default: PostHog sets no address. */
const postHogEmailPolicy = (env: Env) => EMAIL_POLICIES.find((policy) => policy === env.POSTHOG_EMAIL_POLICY) ?? "none";

function postHogSettings(env: Env): PostHogSettings {
  const listed = (env.POSTHOG_CONTACT_PROPERTIES ?? "").split(",").map((key) => key.trim());
  return {
    contactKeys: new Set(listed.filter(Boolean)),
    anonymousEvents: env.POSTHOG_ANONYMOUS_EVENTS === "contacts" ? "contacts" : "store",
  };
}

/** Backfill pages: a journey's enrollments, or a broadcast's emails (decided and rendered as any email). */
function backfillDeps(
  env: Env,
  base: { db: Database; hash: KeyedHash },
  maxPerAddressPerDay: number,
): BackfillPageDeps {
  return {
    ...base,
    queue: env.BACKFILLS_QUEUE,
    journeyStarts: env.JOURNEY_STARTS_QUEUE,
    emailSends: env.EMAIL_SENDS_QUEUE,
    sending: { publicBaseUrl: env.PUBLIC_BASE_URL, tokenSecret: env.TOKEN_SIGNING_SECRET, maxPerAddressPerDay },
  };
}

/** WEBHOOK_RETRY_SCHEDULE: comma-separated seconds; empty or invalid is the default schedule. */
function retrySchedule(value: string | undefined): number[] {
  const parsed = (value ?? "")
    .split(",")
    .filter((s) => s.trim() !== "")
    .map(Number);
  return parsed.length > 0 && parsed.every((n) => Number.isInteger(n) && n >= 0 && n <= 43_200)
    ? parsed
    : DEFAULT_RETRY_SCHEDULE;
}

/** Outbound webhooks: where events are written (the outbox) and how the consumer sends them. */
function webhookDeps(env: Env, db: Database) {
  const webhooks: WebhookEmitDeps = { db, webhookQueue: env.WEBHOOK_DELIVERIES_QUEUE };
  const webhookPolicy = { allowLocalhost: env.WEBHOOKS_ALLOW_LOCALHOST === "true" };
  const webhookDelivery: WebhookDeliveryDeps = {
    db,
    fetch: (input, init) => fetch(input, init),
    policy: webhookPolicy,
    retrySchedule: retrySchedule(env.WEBHOOK_RETRY_SCHEDULE),
    timeoutMs: DEFAULT_TIMEOUT_MS,
  };
  return { webhooks, webhookPolicy, webhookDelivery };
}

function deliveryDeps(env: Env, shared: Pick<DeliveryDeps, "db" | "hash" | "maxPerAddressPerDay">): DeliveryDeps {
  return {
    ...shared,
    provider: providerFromEnv(env),
    from: env.EMAIL_FROM,
    publicBaseUrl: env.PUBLIC_BASE_URL,
    tokenSecret: env.TOKEN_SIGNING_SECRET,
    webhookQueue: env.WEBHOOK_DELIVERIES_QUEUE,
  };
}

export type DepsOptions = {
  /** A request passes its round-trip-counted database; everyone else gets one on the binding. */
  db?: Database;
  /** Lets work finish after the response (`ctx.waitUntil`); awaited inline when absent. */
  waitUntil?: (promise: Promise<unknown>) => void;
};

/**
 * The composition root: every dependency the entry points (routes, queue consumers, the workflow,
 * the cron) hand to the layers below, built from the Worker's bindings in this one place.
 */
export function buildDeps(env: Env, options: DepsOptions = {}) {
  const db = options.db ?? createDb(env.DB);
  const hash = keyedHash(env.ERASURE_HASH_SECRET);
  const workflows: WorkflowDeps = { workflow: env.JOURNEY_WORKFLOW, journeyStarts: env.JOURNEY_STARTS_QUEUE };
  const routing: EventProcessingDeps = { db, hash, ...workflows, postHogEmail: postHogEmailPolicy(env) };
  const ingest: BufferDeps = {
    ...routing,
    idempotencyKeys: env.IDEMPOTENCY_KEYS,
    idempotencyTtlSeconds: Number(env.IDEMPOTENCY_TTL_SECONDS) || DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    waitUntil: options.waitUntil,
    ingestQueue: env.INGEST_EVENTS_QUEUE,
  };
  const batchEnroll: BatchEnrollDeps = { db, hash, journeyStarts: env.JOURNEY_STARTS_QUEUE };
  const imports = importDeps(env, db, hash);
  const emailResends: EmailResendDeps = { db, emailSends: env.EMAIL_SENDS_QUEUE };
  const maxPerAddressPerDay = positiveInt(env.EMAIL_MAX_PER_ADDRESS_PER_DAY, DEFAULT_MAX_PER_ADDRESS_PER_DAY);
  const backfills = backfillDeps(env, { db, hash }, maxPerAddressPerDay);

  const transactional: TransactionalDeps = { db, hash, emailSends: env.EMAIL_SENDS_QUEUE, maxPerAddressPerDay };
  const erasure: ErasureDeps = {
    db,
    hash,
    archive: env.EVENT_ARCHIVE,
    idempotencyKeys: ingest.idempotencyKeys,
    idempotencyTtlSeconds: ingest.idempotencyTtlSeconds,
    workflow: env.JOURNEY_WORKFLOW,
  };
  const retention: RetentionDeps = {
    db,
    archive: env.EVENT_ARCHIVE,
    eventRetentionDays: Number(env.EVENT_RETENTION_DAYS) || DEFAULT_EVENT_RETENTION_DAYS,
    emailBodyRetentionDays: Number(env.EMAIL_BODY_RETENTION_DAYS) || DEFAULT_EMAIL_BODY_RETENTION_DAYS,
    auditRetentionDays: positiveInt(env.AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION_DAYS),
  };
  const replay: ReplayDeps = {
    ...routing,
    archive: retention.archive,
    eventRetentionDays: retention.eventRetentionDays,
  };
  return {
    db,
    /** The keyed hash erasure leaves behind (ERASURE_HASH_SECRET). */
    hash,
    preferences: { db, hash } satisfies PreferenceDeps,
    workflows,
    routing,
    ingest,
    /** How PostHog payloads become events (POSTHOG_ANONYMOUS_EVENTS, POSTHOG_CONTACT_PROPERTIES). */
    postHog: postHogSettings(env),
    batchEnroll,
    imports,
    backfills,
    emailResends,
    transactional,
    erasure,
    retention,
    replay,
    merge: { db, workflow: env.JOURNEY_WORKFLOW } satisfies MergeDeps,
    deadLetterRetry: { db, bucket: imports.bucket, queues: retryQueues(env) } satisfies DeadLetterRetryDeps,
    /** The console's per-day counts of closed days (services/daily-metrics). */
    dailyMetricsCache: caches.default,
    /** Open and click tracking: the operator's scanner networks (TRACKING_SCANNER_RANGES). */
    tracking: { scannerRanges: parseScannerRanges(env.TRACKING_SCANNER_RANGES) },
    ...webhookDeps(env, db),
    /** Built on first use: a misconfigured provider fails email delivery, not every request. */
    get delivery(): DeliveryDeps {
      return deliveryDeps(env, { db, hash, maxPerAddressPerDay });
    },
  };
}

export type Deps = ReturnType<typeof buildDeps>;

/** Imports: the upload bucket, the chunk queue and IMPORT_CHUNKS_PER_INVOCATION. */
function importDeps(env: Env, db: Database, hash: KeyedHash): ImportDeps {
  return {
    db,
    bucket: env.IMPORT_UPLOADS,
    queue: env.IMPORT_CHUNKS_QUEUE,
    hash,
    chunksPerInvocation: positiveInt(env.IMPORT_CHUNKS_PER_INVOCATION, DEFAULT_CHUNKS_PER_INVOCATION),
  };
}

/** Every queue's producer, by its key in src/lib/queues.ts (a dead letter's retry sends to its own queue). */
function retryQueues(env: Env): RetryQueues {
  return {
    importChunks: env.IMPORT_CHUNKS_QUEUE,
    journeyStarts: env.JOURNEY_STARTS_QUEUE,
    emailSends: env.EMAIL_SENDS_QUEUE,
    backfills: env.BACKFILLS_QUEUE,
    ingestEvents: env.INGEST_EVENTS_QUEUE,
    webhookDeliveries: env.WEBHOOK_DELIVERIES_QUEUE,
  };
}
