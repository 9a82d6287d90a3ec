import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { notFound } from "../../lib/errors";
import { eraseContact } from "../../services/erasure";
import { bearerSecurity, errorResponses, notFoundResponse } from "../schemas";

const ErasureSchema = z
  .object({
    complete: z.boolean().openapi({
      description: "false (status 202): this request's budget ran out; send the same DELETE again to continue",
    }),
    removed: z.object({
      contact: z.number().int(),
      events: z.number().int(),
      emails: z.number().int().openapi({ description: "Email rows, with their rendered bodies" }),
      enrollments: z.number().int(),
      importErrors: z.number().int(),
      idempotencyKeys: z.number().int().openapi({ description: "KV fast-path entries (only recent keys live there)" }),
    }),
    hashedSuppressions: z.number().int().openapi({ description: "Addresses now suppressed as sha256:<hex>" }),
  })
  .openapi("Erasure");

const route = createRoute({
  method: "delete",
  path: "/v1/admin/contacts/{idOrExternalId}",
  tags: ["Contacts"],
  summary: "Erase a person (GDPR erasure)",
  description:
    "Deletes the contact, its events and their KV idempotency entries, its emails (rendered bodies included), its enrollments (running workflows terminated) and import error rows naming it. Each address it was mailed at stays suppressed only as a SHA-256 hash (reason `erased`, or the reason it was already suppressed for) unless `suppress=false`. Bounded per request: 202 with `complete: false` means call again; the contact row goes last, so a repeat continues where the last stopped. Once erased, the id answers 404. Events already archived to R2 (older than EVENT_RETENTION_DAYS) are not rewritten.",
  security: bearerSecurity,
  request: {
    params: z.object({ idOrExternalId: z.string().min(1).max(255) }),
    query: z.object({
      suppress: z
        .enum(["true", "false"])
        .default("true")
        .openapi({ description: "Keep a hashed suppression of the person's addresses (default true)" }),
    }),
  },
  responses: {
    200: { description: "Erased", content: { "application/json": { schema: ErasureSchema } } },
    202: {
      description: "Partly erased; call again",
      content: { "application/json": { schema: ErasureSchema } },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminContactErasureRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminContactErasureRoutes.openapi(route, async (c) => {
  const { idOrExternalId } = c.req.valid("param");
  const result = await eraseContact(c.var.deps.erasure, idOrExternalId, {
    suppress: c.req.valid("query").suppress === "true",
  });
  if (!result) throw notFound("Contact");
  return result.complete ? c.json(result, 200) : c.json(result, 202);
});
