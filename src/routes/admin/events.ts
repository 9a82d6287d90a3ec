import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { getEvent, listEvents } from "../../services/events";
import { pathParam } from "../path-params";
import {
  CursorParam,
  EventSchema,
  errorResponses,
  IsoDateTime,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
  toDate,
} from "../schemas";

export const EventFilterSchema = z.object({
  event: z.string().min(1).max(200).optional(),
  userId: z.string().min(1).max(255).optional(),
  from: IsoDateTime.optional().openapi({ description: "Occurred at or after" }),
  to: IsoDateTime.optional().openapi({ description: "Occurred at or before" }),
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/events",
  operationId: "listEvents",
  tags: ["Events"],
  summary: "List stored events",
  description: "Newest first (by receipt), keyset-paged with `cursor`; `from`/`to` bound the occurrence time.",
  ...scope("read"),
  request: { query: EventFilterSchema.extend({ limit: LimitParam(1000, 50), cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of events",
      content: {
        "application/json": { schema: z.object({ events: z.array(EventSchema), nextCursor: z.string().nullable() }) },
      },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/events/{eventId}",
  operationId: "getEvent",
  tags: ["Events"],
  summary: "Get one stored event",
  ...scope("read"),
  request: { params: z.object({ eventId: pathParam("eventId", 64) }) },
  responses: {
    200: { description: "The event", content: { "application/json": { schema: EventSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

export const adminEventRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminEventRoutes.openapi(listRoute, async (c) => {
  const { from, to, ...rest } = c.req.valid("query");
  const page = await listEvents(c.get("db"), {
    ...rest,
    from: toDate(from),
    to: toDate(to),
  });
  return c.json(serialize(page), 200);
});

adminEventRoutes.openapi(getRoute, async (c) => {
  return c.json(serialize(await getEvent(c.get("db"), c.req.valid("param").eventId)), 200);
});
