import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/app-env";
import { validationHook } from "../../http/validation";
import { batchEnroll } from "../../pipeline/batch-enroll";
import { SKIP_REASONS } from "../../services/entry-guards";
import {
  EmailAddress,
  errorResponses,
  jsonBody,
  jsonBodyErrors,
  notFoundResponse,
  PropertiesSchema,
  scope,
} from "../schemas";
import { KeyParam } from "./journeys";

export const MAX_BATCH_ENROLL = 500;

const batchEnrollRoute = createRoute({
  method: "post",
  path: "/v1/admin/journeys/{key}/enroll/batch",
  operationId: "enrollJourneyBatch",
  tags: ["Journeys"],
  summary: "Enroll up to 500 users into a journey",
  description:
    "Upserts each user as a contact and applies every entry guard (trigger conditions against the given properties, unsubscribed or suppressed, entry limit, already active; no address given nor on file is `no_email`), decided atomically; `enrolled: true` means an enrollment row exists. A user listed twice enrolls once. Workflows start through the journey-start queue. `dryRun` answers the same without writing.",
  ...scope("operate", { audit: "batch" }),
  request: {
    params: KeyParam,
    body: jsonBody(
      z
        .object({
          users: z
            .array(
              z.object({
                userId: z.string().min(1).max(255),
                userEmail: EmailAddress.optional().openapi({
                  description: "Optional when the contact already exists with an address",
                }),
                properties: PropertiesSchema.optional(),
              }),
            )
            .min(1)
            .max(MAX_BATCH_ENROLL),
          dryRun: z.boolean().default(false),
        })
        .strict()
        .openapi("BatchEnrollRequest"),
    ),
  },
  responses: {
    200: {
      description: "Per user, in input order",
      content: {
        "application/json": {
          schema: z
            .object({
              enrolled: z.number().int(),
              skipped: z.number().int(),
              results: z.array(
                z.object({
                  userId: z.string(),
                  enrolled: z.boolean(),
                  enrollmentId: z.string().optional(),
                  reason: z.enum(SKIP_REASONS).optional(),
                }),
              ),
            })
            .openapi("BatchEnrollResponse"),
        },
      },
    },
    ...notFoundResponse,
    ...jsonBodyErrors,
    ...errorResponses,
  },
});

export const adminJourneyEnrollmentRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminJourneyEnrollmentRoutes.openapi(batchEnrollRoute, async (c) => {
  const { users, dryRun } = c.req.valid("json");
  return c.json(
    await batchEnroll(c.var.deps.batchEnroll, c.req.valid("param").key, users, { dryRun, audit: c.var.audit }),
    200,
  );
});
