import { z } from "@hono/zod-openapi";
import { ALIAS_KINDS, type ApiKeyScope, CONTACT_CHANGE_SOURCES } from "../db/vocabulary";
import { ERROR_STATUS } from "../lib/errors";
import {
  CONTACT_PROPERTIES_MAX_BYTES,
  CONTACT_PROPERTIES_MAX_KEYS,
  PROPERTIES_MAX_BYTES,
  PROPERTIES_MAX_DEPTH,
  PROPERTIES_MAX_KEYS,
  propertiesProblem,
} from "../lib/properties";
import { MAX_EMAIL_LENGTH } from "../lib/sql";

export const ErrorBodySchema = z
  .object({
    error: z.string().openapi({ example: "userId: Invalid input: expected string, received undefined" }),
    code: z.enum(Object.keys(ERROR_STATUS) as [keyof typeof ERROR_STATUS, ...Array<keyof typeof ERROR_STATUS>]),
    requestId: z.string(),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBodySchema } },
});

/** The error responses every route can give, for the OpenAPI document. */
export const errorResponses = {
  400: errorResponse("Malformed JSON or a field failed validation"),
  401: errorResponse("Missing or invalid API key"),
  413: errorResponse("Request body too large"),
  500: errorResponse("Unexpected error"),
};
/** Public and ingest routes; on admin routes only unverified keys are limited (src/http/auth.ts). */
export const rateLimitedResponse = {
  429: {
    ...errorResponse("Rate limited: retry after the `Retry-After` header's seconds"),
    headers: z.object({ "Retry-After": z.string().openapi({ example: "60" }) }),
  },
};
/** Routes with a JSON body: another Content-Type is refused before validation. */
export const jsonBodyErrors = { 415: errorResponse("Unsupported Content-Type: send application/json") };
export const notFoundResponse = { 404: errorResponse("Not found") };
export const forbiddenResponse = errorResponse("The key lacks the scope this operation's `security` names");
export const conflictResponse = { 409: errorResponse("Conflicts with the resource's state") };

/** An email address as the API accepts it: the document states zod's own pattern, not only `format: email`. */
export const EmailAddress = z
  .email({ pattern: z.regexes.email })
  .max(MAX_EMAIL_LENGTH)
  .openapi({ pattern: z.regexes.email.source });
/** A search term over addresses and ids. */
export const SearchParam = z.string().max(MAX_EMAIL_LENGTH).optional();

export const PropertiesSchema = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    const problem = propertiesProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({
    example: { plan: "pro" },
    description: `A JSON object, nested at most ${PROPERTIES_MAX_DEPTH} levels deep, with at most ${PROPERTIES_MAX_KEYS} top-level keys and at most ${PROPERTIES_MAX_BYTES / 1024} KB as JSON`,
  });

/** An optional validated ISO timestamp (from a query or body) as the Date services take. */
export const toDate = (value: string | undefined): Date | undefined => (value ? new Date(value) : undefined);

/**
 * Idempotency keys are namespaced by source: PostHog's event uuids are stored as `posthog:<uuid>`,
 * and an API caller's key may not take that prefix, so a uuid equal to an API key is no duplicate.
 */
export const postHogIdempotencyKey = (uuid: string) => `posthog:${uuid}`;
export const ApiIdempotencyKey = z
  .string()
  .min(1)
  .max(255)
  // A refinement, not a `pattern`: a lookahead in the document would trip schema-driven generators.
  .refine((key) => !key.startsWith("posthog:"), "the posthog: prefix is reserved for PostHog events' keys")
  .refine((key) => !key.startsWith("engagement:"), "the engagement: prefix is reserved for opens and clicks")
  .openapi({
    description:
      "1–255 characters, not starting with `posthog:` (PostHog events' own namespace) or `engagement:` (opens and clicks)",
  });

export const IsoDateTime = z.iso.datetime({ offset: true }).openapi({ example: "2025-01-15T09:30:00Z" });

export const LimitParam = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).openapi({ example: fallback });

export const CursorParam = z.string().max(64).optional().openapi({
  description: "Opaque cursor: the `nextCursor` of the previous page",
});

/** The ways in (components.securitySchemes, registered in app.tsx): each operation names the ones it takes. */
export const SECURITY_SCHEMES = {
  apiKey: {
    type: "http",
    scheme: "bearer",
    description:
      "`Authorization: Bearer <key>`: a stored key (`hsk_…`, made with `POST /v1/admin/api-keys`) or a bootstrap key (`ADMIN_API_KEY` has the `admin` scope, `INGEST_API_KEY` the `ingest` scope, unless `BOOTSTRAP_KEYS` is `off`). Each operation's security names the one scope it needs: `admin` includes every scope, `operate` includes `read`, `ingest` stands alone. Without it the answer is 403 `FORBIDDEN`.",
  },
  postHogSecret: {
    type: "apiKey",
    in: "header",
    name: "x-posthog-webhook-secret",
    description: "The shared secret `POSTHOG_WEBHOOK_SECRET`",
  },
  resendSignature: {
    type: "apiKey",
    in: "header",
    name: "svix-signature",
    description:
      "A Standard Webhooks (Svix) signature over `svix-id`, `svix-timestamp` and the raw body, with `RESEND_WEBHOOK_SECRET`; all three `svix-*` headers are required, and a timestamp more than 5 minutes off is refused",
  },
} as const;

type Security = Array<Record<string, string[]>>;

/**
 * An operation's scope, declared once: spread into `createRoute`, it is the operation's `security`
 * in the document, what the auth middleware enforces (src/http/operations.ts) and its documented
 * 403. Admin requests that change something are audited; `audit: true` adds a bulk read (the
 * export), `audit: false` leaves out the parts of one operation (upload parts: the completion is the entry),
 * `audit: "batch"` says its service writes the entry in the change's own D1 batch (`c.var.audit`).
 */
export const scope = (needed: ApiKeyScope, options: { audit?: boolean | "batch" } = {}) => ({
  security: [{ apiKey: [needed] }] as Security,
  ...(options.audit === undefined ? {} : { "x-audit": options.audit }),
});
/** An admin route that names no scope needs `admin` (fail closed). */
export const adminSecurity: Security = scope("admin").security;
export const ingestSecurity: Security = scope("ingest").security;
export const publicSecurity: Security = [];

/** A contact's merged properties: bounded by the contact caps, not the per-write ones. */
const ContactPropertiesSchema = z.record(z.string(), z.unknown()).openapi({
  example: { plan: "pro" },
  description: `Every event's and import's properties merged (JSON merge patch): at most ${CONTACT_PROPERTIES_MAX_BYTES / 1024} KB as JSON and ${CONTACT_PROPERTIES_MAX_KEYS} top-level keys; a write that would pass that leaves them as they were`,
});

export const ContactSchema = z
  .object({
    id: z.string(),
    externalId: z.string(),
    email: z.string().nullable(),
    properties: ContactPropertiesSchema,
    unsubscribedAt: z.string().nullable(),
    firstSeenAt: z.string().nullable(),
    lastSeenAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    importJobId: z.string().nullable().openapi({
      description: "The import job that last created or updated the contact (null if none; backfills filter on it)",
    }),
  })
  .openapi("Contact");

export const ContactChangeSchema = z
  .object({
    field: z.enum(["email", "unsubscribed", "suppressed"]),
    from: z
      .string()
      .nullable()
      .openapi({ description: "The value before: an address, `true`/`false`, or a suppression reason" }),
    to: z.string().nullable(),
    source: z.enum(CONTACT_CHANGE_SOURCES).openapi({
      description: "Who made the change: an event source, `import`, `enroll`, `admin` or `unsubscribe_link`",
    }),
    eventId: z.string().nullable().openapi({ description: "The event that made the change, for event sources" }),
    at: z.string(),
  })
  .openapi("ContactChange");

export const ContactMergeSchema = z
  .object({
    id: z.string(),
    from: z.string().openapi({ description: "The merged contact's externalId (now an alias)" }),
    fromContactId: z.string(),
    source: z.enum(["admin", "posthog"]),
    moved: z.record(z.string(), z.number().int()).openapi({ example: { events: 3, emails: 1, enrollments: 1 } }),
    mergedAt: z.string(),
  })
  .openapi("ContactMerge");

export const ContactDetailSchema = ContactSchema.extend({
  emailChanges: z
    .array(ContactChangeSchema)
    .openapi({ description: "The latest address changes (up to 20), newest first; creating a contact is not one" }),
  aliases: z
    .array(z.object({ alias: z.string(), kind: z.enum(ALIAS_KINDS), createdAt: z.string() }))
    .openapi({ description: "Other ids this person is found by (an import's email key, merged ids, PostHog ids)" }),
  merges: z.array(ContactMergeSchema).openapi({ description: "The merges into this contact (up to 20), newest first" }),
}).openapi("ContactDetail");

export const EventSchema = z
  .object({
    id: z.string(),
    event: z.string(),
    userId: z.string(),
    userEmail: z.string().nullable(),
    properties: PropertiesSchema,
    idempotencyKey: z.string().nullable(),
    source: z.enum(["api", "batch", "posthog"]),
    occurredAt: z.string(),
    receivedAt: z.string(),
    processedAt: z.string().nullable(),
    healAttempts: z.number().int().openapi({ description: "Self-healing runs that tried this event" }),
    replayCount: z.number().int(),
    lastReplayedAt: z.string().nullable(),
    anonymous: z.boolean().openapi({
      description: "An unidentified visitor's event (PostHog): stored, but it made no contact and entered no journey",
    }),
    contactUpdate: z
      .object({ set: z.record(z.string(), z.unknown()), setOnce: z.record(z.string(), z.unknown()) })
      .nullable()
      .openapi({
        description:
          "PostHog's person model for this event: `set` merged into the contact (a null removes the key), `setOnce` filling only missing keys; null when the contact merged `properties` (the ingest API)",
      }),
  })
  .openapi("Event");

/** Rows carry Dates; responses carry ISO strings (what JSON.stringify would produce anyway). */
export function serialize<T>(row: T): Jsonified<T> {
  return JSON.parse(JSON.stringify(row)) as Jsonified<T>;
}

type Jsonified<T> = T extends Date
  ? string
  : T extends Array<infer U>
    ? Array<Jsonified<U>>
    : T extends object
      ? { [K in keyof T]: Jsonified<T[K]> }
      : T;

/** A required JSON request body validated by `schema` (and documented with it). */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true as const,
  content: { "application/json": { schema } },
});
