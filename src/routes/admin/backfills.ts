import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { BACKFILL_STATUSES } from "../../db/vocabulary";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { CONDITION_OPS } from "../../journeys/conditions";
import { startBackfill } from "../../pipeline/backfill";
import { cancelBackfill, getBackfill, listBackfills } from "../../services/backfills/jobs";
import { SKIP_REASONS } from "../../services/entry-guards";
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
  scope,
  serialize,
} from "../schemas";
import { KeyParam } from "./journeys";

const PRESENCE_OPS = ["exists", "not_exists"] as const;
const VALUE_OPS = CONDITION_OPS.filter((op) => !(PRESENCE_OPS as readonly string[]).includes(op)) as [
  Exclude<(typeof CONDITION_OPS)[number], (typeof PRESENCE_OPS)[number]>,
  ...Array<Exclude<(typeof CONDITION_OPS)[number], (typeof PRESENCE_OPS)[number]>>,
];

const ConditionProperty = z
  .string()
  .max(200)
  .regex(/^[^".]+(\.[^".]+)*$/, 'a property name or dotted path (no empty parts, no ")')
  // The path becomes a SQL string literal (services/segments): a NUL would end the statement there.
  .refine((name) => !/\p{Cc}/u.test(name), "no control characters in a property name")
  .openapi({ example: "plan" });
const ConditionValue = z.union([z.string().max(1000), z.number(), z.boolean(), z.null()], {
  error: (issue) => (issue.input === undefined ? "this op needs a value" : undefined),
});

/** By `op`: the comparing operators need a `value` (a `oneOf` in the document), exists/not_exists don't. */
const SegmentConditionSchema = z.discriminatedUnion("op", [
  z.object({ property: ConditionProperty, op: z.enum(VALUE_OPS), value: ConditionValue }).strict(),
  z.object({ property: ConditionProperty, op: z.enum(PRESENCE_OPS), value: ConditionValue.optional() }).strict(),
]);

export const SegmentFilterSchema = z
  .object({
    where: z
      .array(SegmentConditionSchema)
      .max(10)
      .optional()
      .openapi({ description: "Conditions on contact properties, all of which must hold (journey semantics)" }),
    search: z.string().min(1).max(200).optional().openapi({ description: "Substring of the email or externalId" }),
    createdFrom: IsoDateTime.optional().openapi({ description: "Contacts created at or after" }),
    createdTo: IsoDateTime.optional().openapi({ description: "Contacts created before" }),
    importJobId: z.string().min(1).max(64).optional().openapi({ description: "Contacts last written by this import" }),
  })
  .strict()
  .openapi("SegmentFilter", { example: { where: [{ property: "plan", op: "eq", value: "pro" }] } });

const SkippedSchema = z.object(Object.fromEntries(SKIP_REASONS.map((r) => [r, z.number().int()]))).openapi({
  description: "Contacts not enrolled, by the first entry guard that refused them",
});

const BackfillJobSchema = z
  .object({
    id: z.string(),
    journeyKey: z.string(),
    status: z.enum(BACKFILL_STATUSES),
    dryRun: z.boolean().openapi({ description: "When true, `enrolled` counts who would be enrolled; nothing was" }),
    // Its own object (not SegmentFilter extended): every field the request takes comes back.
    filter: z
      .object({
        ...SegmentFilterSchema.shape,
        where: z.array(z.object({ property: z.string(), op: z.string(), value: z.unknown().optional() })).optional(),
      })
      .strict(),
    limit: z.number().int().nullable(),
    pageSize: z.number().int(),
    matched: z.number().int().openapi({ description: "Contacts matched by the filter and decided so far" }),
    enrolled: z.number().int(),
    skipped: SkippedSchema,
    pages: z.number().int(),
    error: z.string().nullable().openapi({ description: "Why the job failed (status `failed`)" }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    updatedAt: z.string(),
  })
  .openapi("BackfillJob");

const BackfillPreviewSchema = z
  .object({ dryRun: z.literal(true), matched: z.number().int(), enrolled: z.number().int(), skipped: SkippedSchema })
  .openapi("BackfillPreview");

const startRoute = createRoute({
  method: "post",
  path: "/v1/admin/journeys/{key}/backfill",
  operationId: "startJourneyBackfill",
  tags: ["Journeys"],
  summary: "Backfill a journey from a segment of contacts, as a job",
  description:
    "Walks the contacts matching `filter` (up to `limit`) in pages through a queue and enrolls each through the same entry guards as batch enrollment (the journey's trigger conditions are checked against the contact's properties; a contact needs an email address). Answers 202 with the job; follow it with GET /v1/admin/journeys/backfills/{jobId}. `dryRun` counts what would happen and enrolls nobody: answered at once (200) when the segment is small (up to 1000 matches among the first 10,000 contacts), else as a dry-run job (202).",
  ...scope("operate", { audit: "batch" }),
  request: {
    params: KeyParam,
    body: jsonBody(
      z
        .object({
          filter: SegmentFilterSchema,
          limit: z.number().int().min(1).max(100_000_000).optional(),
          dryRun: z.boolean().default(false),
          pageSize: z
            .number()
            .int()
            .min(10)
            .max(1000)
            .default(500)
            .openapi({ description: "Contacts enrolled per queue message" }),
        })
        .strict()
        .openapi("BackfillRequest"),
    ),
  },
  responses: {
    200: {
      description: "Dry run over a small segment",
      content: { "application/json": { schema: BackfillPreviewSchema } },
    },
    202: { description: "The job, queued", content: { "application/json": { schema: BackfillJobSchema } } },
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

const JobIdParams = z.object({ jobId: pathParam("jobId", 64) });

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys/backfills/{jobId}",
  operationId: "getBackfillJob",
  tags: ["Journeys"],
  summary: "Backfill job status and counts",
  ...scope("read"),
  request: { params: JobIdParams },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: BackfillJobSchema } } },
    ...notFoundResponse,
    ...errorResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/journeys/backfills",
  operationId: "listBackfillJobs",
  tags: ["Journeys"],
  summary: "List backfill jobs, newest first",
  ...scope("read"),
  request: {
    query: z.object({ journey: z.string().min(1).max(64).optional(), limit: LimitParam(100, 20), cursor: CursorParam }),
  },
  responses: {
    200: {
      description: "A page of jobs",
      content: {
        "application/json": {
          schema: z.object({ backfills: z.array(BackfillJobSchema), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses,
  },
});

const cancelRoute = createRoute({
  method: "post",
  path: "/v1/admin/journeys/backfills/{jobId}/cancel",
  operationId: "cancelBackfillJob",
  tags: ["Journeys"],
  summary: "Cancel a pending or processing backfill",
  description:
    "The job stops at once: a page in flight is discarded, enrollments already made stay (their workflows run), and the counts say how far it got. 409 when the job already ended.",
  ...scope("operate", { audit: "batch" }),
  request: { params: JobIdParams },
  responses: {
    200: { description: "The cancelled job", content: { "application/json": { schema: BackfillJobSchema } } },
    ...notFoundResponse,
    ...conflictResponse,
    ...errorResponses,
  },
});

export const adminBackfillRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminBackfillRoutes.openapi(startRoute, async (c) => {
  const { filter, limit, dryRun, pageSize } = c.req.valid("json");
  const input = { journeyKey: c.req.valid("param").key, filter, limit, dryRun, pageSize, audit: c.var.audit };
  const started = await startBackfill(c.var.deps.backfills, input);
  if ("preview" in started) return c.json(started.preview, 200);
  return c.json(serialize(started.job), 202);
});

adminBackfillRoutes.openapi(listRoute, async (c) => {
  const { journey, limit, cursor } = c.req.valid("query");
  return c.json(serialize(await listBackfills(c.get("db"), { journeyKey: journey, limit, cursor })), 200);
});

adminBackfillRoutes.openapi(getRoute, async (c) =>
  c.json(serialize(await getBackfill(c.get("db"), c.req.valid("param").jobId)), 200),
);

adminBackfillRoutes.openapi(cancelRoute, async (c) =>
  c.json(serialize(await cancelBackfill(c.get("db"), c.req.valid("param").jobId, { audit: c.var.audit })), 200),
);
