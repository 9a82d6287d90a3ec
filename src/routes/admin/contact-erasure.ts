import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ARCHIVE_ERASURE_STATES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { notFound } from "../../lib/errors";
import { eraseContact } from "../../services/erasure";
import { pathParam } from "../path-params";
import { conflictResponse, errorResponses, notFoundResponse, scope } from "../schemas";

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
      workflowInstances: z.number().int().openapi({
        description: "Journey workflow instances deleted with their stored state (running ones stop)",
      }),
      importErrors: z.number().int(),
      idempotencyKeys: z.number().int().openapi({ description: "KV fast-path entries (only recent keys live there)" }),
      contactChanges: z.number().int().openapi({ description: "The contact's address and opt-out history rows" }),
      importSeenIds: z.number().int().openapi({ description: "A running import's record of the id" }),
      deadLetters: z.number().int().openapi({
        description: "Dead letters of buffered ingest that held the person's events (rewritten or deleted)",
      }),
      aliases: z.number().int().openapi({
        description: "The other ids the person was known by (each also marked erased: see the description)",
      }),
    }),
    hashedSuppressions: z
      .number()
      .int()
      .openapi({ description: "Addresses now suppressed as hmac:<hex> (a keyed hash: see ERASURE_HASH_SECRET)" }),
    archive: z.enum(ARCHIVE_ERASURE_STATES).openapi({
      description:
        "The R2 event archive: `scrub_pending` until the cron's scrub has removed the person's archived events (meanwhile replay skips them), then `scrubbed`; `nothing_archived` when the archive held nothing. The same DELETE again answers with the current state.",
    }),
  })
  .openapi("Erasure");

const route = createRoute({
  method: "delete",
  path: "/v1/admin/contacts/{idOrExternalId}",
  operationId: "eraseContact",
  tags: ["Contacts"],
  summary: "Erase a person (GDPR erasure)",
  description:
    "Deletes the contact, its events and their KV idempotency entries, its emails (rendered bodies included), its enrollments and their workflow instances with the state Workflows stored for them (running ones stop) and import error rows naming it. Every address it ever had (its current one, its address history, its events' `userEmail`, where its emails went) stays suppressed only as a keyed hash (reason `erased`, or the reason it was already suppressed for) unless `suppress=false`. Work accepted before the erasure (buffered or retried events, dead letters, a workflow step in flight) never brings the person back; events received after it are a person coming back, and are written as usual. Bounded per request: 202 with `complete: false` means call again; the contact row goes last, so a repeat continues where the last stopped. Events already archived to R2 (older than EVENT_RETENTION_DAYS) are removed by the cron's bounded scrub, which rewrites the archive objects without them; `archive` says whether that is still pending, and replay skips them meanwhile. Once erased, the same DELETE by user id answers 200 with nothing removed and the current `archive` state (404 for an id never erased). While a (non-dry-run) import is pending or processing it answers 409 and changes nothing: that import's file could bring the person back; erase after it ends, or cancel it.",
  ...scope("admin", { audit: "batch" }),
  request: {
    params: z.object({ idOrExternalId: pathParam("idOrExternalId", 255) }),
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
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminContactErasureRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminContactErasureRoutes.openapi(route, async (c) => {
  const { idOrExternalId } = c.req.valid("param");
  const result = await eraseContact(c.var.deps.erasure, idOrExternalId, {
    suppress: c.req.valid("query").suppress === "true",
    audit: c.var.audit,
  });
  if (!result) throw notFound("Contact");
  return result.complete ? c.json(result, 200) : c.json(result, 202);
});
