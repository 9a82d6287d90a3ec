import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../http/app-env";
import { validationHook } from "../http/validation";
import { AppError } from "../lib/errors";
import { ACCEPT_STATUSES, sendEmail } from "../services/transactional-emails";
import {
  ApiIdempotencyKey,
  EmailAddress,
  errorResponses,
  IsoDateTime,
  ingestSecurity,
  jsonBody,
  jsonBodyErrors,
  notFoundResponse,
  PropertiesSchema,
  rateLimitedResponse,
} from "./schemas";

/** How far ahead `sendAt` may be. */
export const MAX_SEND_AT_DAYS = 30;

const SendEmailSchema = z
  .object({
    template: z.string().min(1).max(100).openapi({ example: "password-reset" }),
    to: EmailAddress.optional().openapi({ description: "The address; exactly one of `to` and `userId`" }),
    userId: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .openapi({ description: "A contact id or externalId; exactly one of `to` and `userId`", example: "user_abc123" }),
    data: PropertiesSchema.optional().openapi({
      description: "Checked against the template's data schema (`GET /v1/admin/templates`)",
      example: { resetUrl: "https://app.example.com/reset?t=abc" },
    }),
    topic: z.string().min(1).max(63).optional().openapi({ description: "Overrides the template's topic" }),
    transactional: z.boolean().optional().openapi({
      description:
        "Send despite unsubscribes and topic opt-outs (never despite suppressions); templates can declare it themselves",
    }),
    idempotencyKey: ApiIdempotencyKey.optional().openapi({ example: "reset_user_abc123_0001" }),
    sendAt: IsoDateTime.optional().openapi({
      description: `Not sent before this time (at most ${MAX_SEND_AT_DAYS} days ahead); default: now`,
    }),
  })
  .strict()
  .refine((body) => (body.to === undefined) !== (body.userId === undefined), {
    message: "give exactly one of to and userId",
    path: ["to"],
  })
  .openapi("SendEmailRequest");

const AcceptedEmailSchema = z
  .object({
    emailId: z.string(),
    status: z.enum(ACCEPT_STATUSES),
    reason: z.string().optional().openapi({
      description:
        "Why it won't be sent: the suppression reason (`hard_bounce`, `complaint`, `erased`…), `unsubscribed`, `topic_unsubscribed`, `rate_limited` or `no_address`",
      example: "topic_unsubscribed",
    }),
  })
  .openapi("AcceptedEmail");

const route = createRoute({
  method: "post",
  path: "/v1/emails",
  operationId: "sendEmail",
  tags: ["Emails"],
  summary: "Send one email now (or at sendAt): a receipt, a password reset, an invite",
  description:
    "Validates `data` against the template's schema (400 naming the field), decides in one D1 round trip whether the email may go (suppressions always block; unsubscribes and topic opt-outs block unless transactional; the per-address daily cap counts transactional sends apart), and queues it. The same `idempotencyKey` (body or `Idempotency-Key` header) answers the first call's `emailId` and sends nothing more. `to` an address no contact has makes a contact keyed by it. `GET /v1/admin/emails/{emailId}` shows it.",
  security: ingestSecurity,
  request: {
    headers: z.object({ "idempotency-key": ApiIdempotencyKey.optional() }),
    body: jsonBody(SendEmailSchema),
  },
  responses: {
    ...rateLimitedResponse,
    202: {
      description: "Accepted: queued, or recorded with the reason it won't be sent",
      content: { "application/json": { schema: AcceptedEmailSchema } },
    },
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const emailRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

emailRoutes.use("/v1/emails", bodyLimit({ maxSize: 256 * 1024 }));

emailRoutes.openapi(route, async (c) => {
  const { sendAt, ...body } = c.req.valid("json");
  const headerKey = c.req.valid("header")["idempotency-key"];
  if (headerKey && body.idempotencyKey && headerKey !== body.idempotencyKey)
    throw new AppError("VALIDATION_ERROR", "idempotencyKey: differs from the Idempotency-Key header");
  const at = sendAt ? new Date(sendAt) : undefined;
  if (at && at.getTime() > Date.now() + MAX_SEND_AT_DAYS * 86_400_000)
    throw new AppError("VALIDATION_ERROR", `sendAt: at most ${MAX_SEND_AT_DAYS} days ahead`);
  const accepted = await sendEmail(c.var.deps.transactional, {
    ...body,
    idempotencyKey: body.idempotencyKey ?? headerKey,
    sendAt: at,
  });
  return c.json(accepted, 202);
});
