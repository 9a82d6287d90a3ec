import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { listDeadLetters } from "../../services/dead-letters";
import { CursorParam, errorResponses, LimitParam, scope, serialize } from "../schemas";

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
  })
  .openapi("DeadLetter");

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

export const adminDeadLetterRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminDeadLetterRoutes.openapi(route, async (c) =>
  c.json(serialize(await listDeadLetters(c.get("db"), c.req.valid("query"))), 200),
);
