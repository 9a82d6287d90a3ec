import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { EMAIL_STATUSES } from "../../db/schema";
import type { AppEnv } from "../../lib/app-env";
import { validationHook } from "../../lib/http";
import { getEmail, listEmails } from "../../services/emails";
import { bearerSecurity, CursorParam, errorResponses, IsoDateTime, LimitParam, notFoundResponse, PropertiesSchema, serialize } from "../schemas";

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
  tags: ["Emails"],
  summary: "List emails, newest first",
  description: "`to` is the recipient address; `from`/`until` bound the creation time.",
  security: bearerSecurity,
  request: {
    query: z.object({
      status: z.enum(EMAIL_STATUSES).optional(),
      templateKey: z.string().max(100).optional(),
      to: z.string().max(320).optional(),
      from: IsoDateTime.optional(),
      until: IsoDateTime.optional(),
      limit: LimitParam(1000, 50),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of emails",
      content: { "application/json": { schema: z.object({ emails: z.array(EmailSummarySchema), nextCursor: z.string().nullable() }) } },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/emails/{id}",
  tags: ["Emails"],
  summary: "One email, with its rendered content when the log provider sent it",
  security: bearerSecurity,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
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
    from: from ? new Date(from) : undefined,
    until: until ? new Date(until) : undefined,
  });
  return c.json(serialize(page), 200);
});

adminEmailRoutes.openapi(getRoute, async (c) => c.json(serialize(await getEmail(c.get("db"), c.req.valid("param").id)), 200));
