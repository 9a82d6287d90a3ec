import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { EMAIL_STATUSES, ENROLLMENT_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { getJourney } from "../../journeys/registry";
import { exitEnrollmentManually, listEnrollments } from "../../services/enrollments";
import { journeyFunnel } from "../../services/journey-funnel";
import { describeJourney, listJourneys, setJourneyEnabled } from "../../services/journeys";
import { pathParam } from "../path-params";
import {
  CursorParam,
  conflictResponse,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  LimitParam,
  notFoundResponse,
  scope,
  serialize,
} from "../schemas";

const ConditionSchema = z.object({ property: z.string(), op: z.string(), value: z.unknown().optional() });
const MatcherSchema = z.object({ event: z.string(), where: z.array(ConditionSchema).optional() });
const CountsSchema = z.object({
  active: z.number(),
  waiting: z.number(),
  completed: z.number(),
  exited: z.number(),
  failed: z.number(),
});

export const JourneySchema = z
  .object({
    key: z.string(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean().openapi({ description: "Effective: the admin override when set, else the definition's flag" }),
    enabledInCode: z.boolean(),
    enabledOverride: z.boolean().nullable(),
    trigger: MatcherSchema,
    entryLimit: z.enum(["once", "once_per_period", "unlimited"]),
    entryPeriod: z.string().nullable(),
    exitOn: z.array(MatcherSchema),
    enrollments: CountsSchema,
  })
  .openapi("Journey");

export const EnrollmentSchema = z
  .object({
    id: z.string(),
    journeyKey: z.string(),
    userId: z.string(),
    status: z.enum(ENROLLMENT_STATUSES),
    triggerEventId: z.string().nullable(),
    source: z.enum(["event", "batch"]),
    waitingFor: z.string().nullable(),
    error: z.string().nullable(),
    exitReason: z.string().nullable(),
    exitEventId: z.string().nullable(),
    enrolledAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi("Enrollment");

export const KeyParam = z.object({ key: pathParam("key", 64) });

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys",
  operationId: "listJourneys",
  tags: ["Journeys"],
  summary: "List journeys with enrollment counts by status",
  ...scope("read"),
  responses: {
    200: {
      description: "Every journey defined in code",
      content: { "application/json": { schema: z.object({ journeys: z.array(JourneySchema) }) } },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys/{key}",
  operationId: "getJourney",
  tags: ["Journeys"],
  summary: "One journey",
  ...scope("read"),
  request: { params: KeyParam },
  responses: {
    200: { description: "The journey", content: { "application/json": { schema: JourneySchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/v1/admin/journeys/{key}",
  operationId: "updateJourney",
  tags: ["Journeys"],
  summary: "Enable or disable a journey (admin override)",
  description:
    "`enabled: false` stops new entries (reason `journey_disabled`); running enrollments continue. `enabled: null` removes the override.",
  ...scope("admin", { audit: "batch" }),
  request: {
    params: KeyParam,
    body: jsonBody(z.object({ enabled: z.boolean().nullable() }).strict()),
  },
  responses: {
    200: { description: "The journey after the change", content: { "application/json": { schema: JourneySchema } } },
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const enrollmentsRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys/{key}/enrollments",
  operationId: "listJourneyEnrollments",
  tags: ["Journeys"],
  summary: "A journey's enrollments, newest first",
  ...scope("read"),
  request: {
    params: KeyParam,
    query: z.object({
      status: z.enum(ENROLLMENT_STATUSES).optional(),
      limit: LimitParam(1000, 50),
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of enrollments",
      content: {
        "application/json": {
          schema: z.object({ enrollments: z.array(EnrollmentSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const funnelRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys/{key}/funnel",
  operationId: "getJourneyFunnel",
  tags: ["Journeys"],
  summary: "A journey's funnel: enrollments by status, by email step, and where the running ones wait",
  description:
    "Over all the journey's enrollments. `emailSteps` are the journey's `sendEmail` steps in the order its code reaches them (`{n}:sendEmail:{template}`), each with the enrollments that reached it and its emails by status; `running` groups running enrollments by the event they wait for (null: a timer, or a step under way).",
  ...scope("read"),
  request: { params: KeyParam },
  responses: {
    200: {
      description: "The funnel",
      content: {
        "application/json": {
          schema: z
            .object({
              journeyKey: z.string(),
              enrolled: z.number().int(),
              byStatus: CountsSchema,
              emailSteps: z.array(
                z.object({
                  step: z.string().openapi({ example: "1:sendEmail:welcome" }),
                  template: z.string().nullable(),
                  enrollments: z.number().int(),
                  byStatus: z.partialRecord(z.enum(EMAIL_STATUSES), z.number().int()),
                }),
              ),
              running: z.array(
                z.object({
                  waitingFor: z.string().nullable(),
                  status: z.enum(["active", "waiting"]),
                  enrollments: z.number().int(),
                }),
              ),
            })
            .openapi("JourneyFunnel"),
        },
      },
    },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const exitRoute = createRoute({
  method: "delete",
  path: "/v1/admin/journeys/{key}/enrollments/{enrollmentId}",
  operationId: "exitJourneyEnrollment",
  tags: ["Journeys"],
  summary: "Exit a user from a journey by hand",
  description:
    "Marks the enrollment `exited` (reason `manual`) and stops its workflow; no further email is sent. 409 when it already finished.",
  ...scope("operate", { audit: "batch" }),
  request: { params: KeyParam.extend({ enrollmentId: z.string().min(1).max(64) }) },
  responses: {
    200: { description: "The exited enrollment", content: { "application/json": { schema: EnrollmentSchema } } },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminJourneyRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminJourneyRoutes.openapi(listRoute, async (c) => c.json({ journeys: await listJourneys(c.get("db")) }, 200));

adminJourneyRoutes.openapi(getRoute, async (c) =>
  c.json(await describeJourney(c.get("db"), c.req.valid("param").key), 200),
);

adminJourneyRoutes.openapi(patchRoute, async (c) => {
  const { key } = c.req.valid("param");
  const journey = await setJourneyEnabled(c.get("db"), key, c.req.valid("json").enabled, { audit: c.var.audit });
  return c.json(journey, 200);
});

adminJourneyRoutes.openapi(enrollmentsRoute, async (c) => {
  const { key } = c.req.valid("param");
  getJourney(key);
  const page = await listEnrollments(c.get("db"), { journeyKey: key, ...c.req.valid("query") });
  return c.json(serialize(page), 200);
});

adminJourneyRoutes.openapi(exitRoute, async (c) => {
  const { key, enrollmentId } = c.req.valid("param");
  getJourney(key);
  const enrollment = await exitEnrollmentManually(c.var.deps.routing, key, enrollmentId, { audit: c.var.audit });
  return c.json(serialize(enrollment), 200);
});

adminJourneyRoutes.openapi(funnelRoute, async (c) =>
  c.json(await journeyFunnel(c.get("db"), c.req.valid("param").key), 200),
);
