import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { EMAIL_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { listEmails } from "../../services/email-list";
import { bulkResend, RESENDABLE, resendEmail } from "../../services/email-resends";
import { getEmail } from "../../services/emails";
import { pathParam } from "../path-params";
import {
  CursorParam,
  conflictResponse,
  errorResponses,
  IsoDateTime,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  PropertiesSchema,
  SearchParam,
  scope,
  serialize,
  toDate,
} from "../schemas";

const EmailParams = z.object({ emailId: pathParam("emailId", 64) });

const EmailSummarySchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    toAddress: z.string().nullable(),
    templateKey: z.string().nullable(),
    subject: z.string().nullable(),
    status: z.enum(EMAIL_STATUSES),
    provider: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    error: z.string().nullable(),
    journeyKey: z.string().nullable(),
    enrollmentId: z.string().nullable(),
    resentFromId: z.string().nullable(),
    createdAt: z.string(),
    sentAt: z.string().nullable(),
  })
  .openapi("EmailSummary");

const EmailSchema = EmailSummarySchema.extend({
  props: PropertiesSchema.openapi({ description: "The props the template was rendered with" }),
  html: z.string().nullable().openapi({ description: "Rendered HTML, kept when the log provider sent it" }),
  text: z.string().nullable(),
  bounceType: z.enum(["hard", "soft"]).nullable(),
  stepKey: z.string().nullable(),
  topicKey: z
    .string()
    .nullable()
    .openapi({ description: "The topic (null: its template's, or a transactional email of none)" }),
  transactional: z.boolean().openapi({ description: "Sent despite opt-outs (never suppressions); capped apart" }),
  idempotencyKey: z.string().nullable().openapi({ description: "POST /v1/emails: the caller's idempotency key" }),
  sendAt: z.string().nullable().openapi({ description: "POST /v1/emails: not sent before this time" }),
  broadcastId: z
    .string()
    .nullable()
    .openapi({ description: "The broadcast that made it (one per contact per broadcast)" }),
  contactId: z.string().nullable().openapi({ description: "A broadcast's email: the contact it was made for" }),
  updatedAt: z.string(),
  deliveredAt: z.string().nullable(),
  bouncedAt: z.string().nullable(),
  complainedAt: z.string().nullable(),
  failedAt: z.string().nullable(),
  suppressedAt: z.string().nullable(),
}).openapi("Email");

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/emails",
  operationId: "listEmails",
  tags: ["Emails"],
  summary: "List emails, newest first",
  description: "`to` is the recipient address; `from`/`until` bound the creation time.",
  ...scope("read"),
  request: {
    query: z.object({
      status: z.enum(EMAIL_STATUSES).optional(),
      templateKey: z.string().max(100).optional(),
      to: SearchParam,
      from: IsoDateTime.optional(),
      until: IsoDateTime.optional(),
      limit: LimitParam(1000, 50),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of emails",
      content: {
        "application/json": {
          schema: z.object({ emails: z.array(EmailSummarySchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/emails/{emailId}",
  operationId: "getEmail",
  tags: ["Emails"],
  summary: "One email, with its rendered content when the log provider sent it",
  ...scope("read"),
  request: { params: EmailParams },
  responses: {
    200: { description: "The email", content: { "application/json": { schema: EmailSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminEmailRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminEmailRoutes.openapi(listRoute, async (c) => {
  const { from, until, ...rest } = c.req.valid("query");
  const page = await listEmails(c.get("db"), {
    ...rest,
    from: toDate(from),
    until: toDate(until),
  });
  return c.json(serialize(page), 200);
});

adminEmailRoutes.openapi(getRoute, async (c) =>
  c.json(serialize(await getEmail(c.get("db"), c.req.valid("param").emailId)), 200),
);

const resendRoute = createRoute({
  method: "post",
  path: "/v1/admin/emails/{emailId}/resend",
  operationId: "resendEmail",
  tags: ["Emails"],
  summary: "Resend a failed, bounced or skipped email",
  description:
    "Re-renders the email from its template and stored props as a new email linked to the original (`resentFromId`) and sends it through the email-send queue. Suppression and unsubscribes still apply when it is sent. 409 for any other status or without a templateKey.",
  ...scope("operate", { audit: "batch" }),
  request: { params: EmailParams },
  responses: {
    202: {
      description: "Queued",
      content: { "application/json": { schema: z.object({ emailId: z.string(), status: z.literal("queued") }) } },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

const bulkResendRoute = createRoute({
  method: "post",
  path: "/v1/admin/emails/resend",
  operationId: "resendEmails",
  tags: ["Emails"],
  summary: "Retry the failed recipients: resend every matching failed/bounced/skipped email",
  description:
    "Oldest first, up to `limit` (default 100, max 1000). Skips, with a reason per email: `unsubscribed` (the contact, or a `skipped` email's topic: `topic_unsubscribed`), `suppressed` (the address it would go to now), `already_resent` (so running it twice doesn't send twice). `from`/`to` bound the original's creation time. `dryRun` answers without sending.",
  ...scope("operate", { audit: "batch" }),
  request: {
    body: jsonBody(
      z
        .object({
          filter: z
            .object({
              status: z.enum(RESENDABLE).optional(),
              templateKey: z.string().max(100).optional(),
              journeyKey: z.string().max(64).optional(),
              from: IsoDateTime.optional(),
              to: IsoDateTime.optional(),
            })
            .strict()
            .default({}),
          limit: z.number().int().min(1).max(1000).default(100),
          dryRun: z.boolean().default(false),
        })
        .strict()
        .openapi("BulkResendRequest"),
    ),
  },
  responses: {
    200: {
      description: "Per email, oldest first",
      content: {
        "application/json": {
          schema: z
            .object({
              resent: z.number().int().openapi({ description: "Resent (or, with dryRun, would be)" }),
              skipped: z.number().int(),
              results: z.array(
                z.object({
                  emailId: z.string(),
                  outcome: z.enum(["resent", "would_resend", "unsubscribed", "suppressed", "already_resent"]),
                  newEmailId: z.string().optional(),
                }),
              ),
            })
            .openapi("BulkResendResponse"),
        },
      },
    },
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

adminEmailRoutes.openapi(resendRoute, async (c) =>
  c.json(await resendEmail(c.var.deps.emailResends, c.req.valid("param").emailId, { audit: c.var.audit }), 202),
);

adminEmailRoutes.openapi(bulkResendRoute, async (c) => {
  const { filter, limit, dryRun } = c.req.valid("json");
  const result = await bulkResend(c.var.deps.emailResends, {
    filter: { ...filter, from: toDate(filter.from), to: toDate(filter.to) },
    limit,
    dryRun,
    audit: c.var.audit,
  });
  return c.json(result, 200);
});
