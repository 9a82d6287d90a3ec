import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { retryDeadLetter } from "../../services/dead-letter-retry";
import { listDeadLetters } from "../../services/dead-letters";
import {
  CursorParam,
  conflictResponse,
  errorResponses,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";

const DeadLetterSchema = z
  .object({
    id: z.string(),
    queue: z.string().openapi({ example: "hogsend-email-sends" }),
    messageId: z.string(),
    body: z.unknown().openapi({ description: "The message as it was sent (a pointer: job, enrollment or email id)" }),
    attempts: z.number().int(),
    subject: z.string().nullable().openapi({ example: "email:01a2…" }),
    error: z.string(),
    createdAt: z.string(),
    retriedAt: z
      .string()
      .nullable()
      .openapi({ description: "When it was retried (POST /v1/admin/dead-letters/{id}/retry); null until then" }),
  })
  .openapi("DeadLetter");

const RequeuedSchema = z
  .object({
    emailId: z.string().optional().openapi({ description: "The new email sent in place of the failed one" }),
    resentFromId: z.string().optional(),
    importJobId: z.string().optional().openapi({ description: "The import resumed from its checkpoint" }),
    backfillJobId: z.string().optional().openapi({ description: "The backfill or broadcast resumed from its cursor" }),
    enrollmentIds: z.array(z.string()).optional().openapi({ description: "Enrollments whose workflows start again" }),
    eventIds: z.array(z.string()).optional().openapi({ description: "Buffered events sent to ingest again" }),
    endpointId: z.string().optional(),
    eventId: z
      .string()
      .optional()
      .openapi({ description: "The webhook event delivered again, or the event self-healing routes again" }),
  })
  .openapi("DeadLetterRequeued");

const route = createRoute({
  method: "get",
  path: "/v1/admin/dead-letters",
  operationId: "listDeadLetters",
  tags: ["Reliability"],
  summary: "Queue messages that exhausted their retries",
  description:
    "Newest first. What died, from which queue, about what (job, enrollments, email) and why; the thing it was about has been settled (email or job `failed`, unstarted enrollments `failed`).",
  ...scope("read"),
  request: {
    query: z.object({ queue: z.string().max(100).optional(), limit: LimitParam(1000, 50), cursor: CursorParam }),
  },
  responses: {
    200: {
      description: "A page of dead letters",
      content: {
        "application/json": {
          schema: z.object({ deadLetters: z.array(DeadLetterSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const retryRoute = createRoute({
  method: "post",
  path: "/v1/admin/dead-letters/{id}/retry",
  operationId: "retryDeadLetter",
  tags: ["Reliability"],
  summary: "Put what a dead letter was about back to work, once",
  description:
    "Fix the cause first. Then: a failed email is resent as a new email (suppression and topics checked when it goes); a failed import or backfill/broadcast resumes from its checkpoint; enrollments whose workflow never started start (unless the person is in the journey again); buffered events go back to ingest (stored ones are skipped); a dead webhook delivery starts over; an event self-healing gave up on is routed by the next cron run. 409 when it was already retried or there is nothing left to retry (the job is no longer failed, the email or job is gone); a body that doesn't match its queue's schema can't be retried.",
  ...scope("operate", { audit: "batch" }),
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    202: {
      description: "Retried: what was put back to work",
      content: {
        "application/json": {
          schema: z.object({
            id: z.string(),
            queue: z.string(),
            subject: z.string().nullable(),
            retriedAt: z.string(),
            requeued: RequeuedSchema,
          }),
        },
      },
    },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminDeadLetterRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminDeadLetterRoutes.openapi(route, async (c) =>
  c.json(serialize(await listDeadLetters(c.get("db"), c.req.valid("query"))), 200),
);

adminDeadLetterRoutes.openapi(retryRoute, async (c) =>
  c.json(
    serialize(await retryDeadLetter(c.var.deps.deadLetterRetry, c.req.valid("param").id, { audit: c.var.audit })),
    202,
  ),
);
