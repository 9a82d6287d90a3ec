import { OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { Webhook } from "standardwebhooks";
import type { AppEnv } from "../../http/app-env";
import { AppError, describeZodError } from "../../lib/errors";
import { applyProviderEvent, type ProviderEvent } from "../../services/email-events";
import { errorResponses, jsonBody, rateLimitedResponse } from "../schemas";

const ResendEventSchema = z.object({
  type: z.string(),
  created_at: z.string().optional(),
  data: z
    .object({
      email_id: z.string(),
      bounce: z
        .object({ type: z.string().optional(), subType: z.string().optional(), message: z.string().optional() })
        .loose()
        .optional(),
    })
    .loose(),
});

// Documented with registerPath, handled with a plain route: the signature covers the raw body, and
// a JSON validator would hand the handler a re-serialized body instead.
const route = {
  method: "post" as const,
  path: "/v1/webhooks/resend",
  operationId: "receiveResendWebhook",
  tags: ["Webhooks"],
  security: [{ resendSignature: [] }],
  summary: "Resend delivery webhooks",
  description:
    "Svix-signed (`svix-id`, `svix-timestamp`, `svix-signature`), verified against `RESEND_WEBHOOK_SECRET`; a bad or stale (>5 min) signature is refused with 401. Updates the email's status; hard bounces, complaints and a third soft bounce suppress the address. A delivery whose `svix-id` was applied before (a replay inside the signature window, or Resend's retry) answers 200 with `duplicate: true` and changes nothing.",
  request: { body: jsonBody(ResendEventSchema) },
  responses: {
    ...rateLimitedResponse,
    200: {
      description: "Applied (or ignored: an event type we don't track, or an email we don't know)",
      content: {
        "application/json": {
          schema: z.object({
            handled: z.boolean(),
            duplicate: z
              .boolean()
              .openapi({ description: "This delivery's svix-id was applied before: nothing changed" }),
            emailId: z.string().nullable(),
            status: z.string().nullable(),
            suppressed: z.boolean(),
          }),
        },
      },
    },
    ...errorResponses,
  },
};

/** The payload, if the Svix signature over the raw body verifies; standardwebhooks implements the scheme. */
function verifySignature(secret: string | undefined, body: string, headers: Headers): unknown {
  if (!secret) throw new AppError("UNAUTHORIZED", "Resend webhooks are disabled: RESEND_WEBHOOK_SECRET is not set");
  try {
    return new Webhook(secret).verify(body, {
      "webhook-id": headers.get("svix-id") ?? "",
      "webhook-timestamp": headers.get("svix-timestamp") ?? "",
      "webhook-signature": headers.get("svix-signature") ?? "",
    });
  } catch (error) {
    throw new AppError("UNAUTHORIZED", `Invalid webhook signature: ${(error as Error).message}`);
  }
}

function toProviderEvent(event: z.infer<typeof ResendEventSchema>): ProviderEvent | null {
  const at = event.created_at && !Number.isNaN(Date.parse(event.created_at)) ? new Date(event.created_at) : new Date();
  const messageId = event.data.email_id;
  switch (event.type) {
    case "email.delivered":
      return { type: "delivered", messageId, at };
    case "email.complained":
      return { type: "complained", messageId, at };
    case "email.bounced": {
      const kind = `${event.data.bounce?.type ?? ""}`.toLowerCase();
      const hard = kind === "permanent" || kind === "hard" || kind === "";
      return { type: "bounced", messageId, at, bounce: hard ? "hard" : "soft", detail: event.data.bounce?.message };
    }
    default:
      return null;
  }
}

export const resendWebhookRoutes = new OpenAPIHono<AppEnv>();

resendWebhookRoutes.openAPIRegistry.registerPath(route);

resendWebhookRoutes.post(route.path, bodyLimit({ maxSize: 256 * 1024 }), async (c) => {
  const payload = verifySignature(c.env.RESEND_WEBHOOK_SECRET, await c.req.text(), c.req.raw.headers);
  const parsed = ResendEventSchema.safeParse(payload);
  if (!parsed.success) throw new AppError("VALIDATION_ERROR", describeZodError(parsed.error));
  const event = toProviderEvent(parsed.data);
  if (!event) return c.json({ handled: false, duplicate: false, emailId: null, status: null, suppressed: false }, 200);
  const delivery = { source: "resend" as const, id: c.req.header("svix-id") ?? "" };
  const applied = await applyProviderEvent(c.var.deps.webhooks, event, delivery);
  return c.json({ handled: applied.emailId !== null, ...applied }, 200);
});
