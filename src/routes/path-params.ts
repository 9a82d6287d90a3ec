import { z } from "@hono/zod-openapi";

/**
 * Path parameters never match a literal segment that sits at the same place in another path
 * (`/contacts/export` is never the contact "export"), so no two documented paths match one URL and
 * routing doesn't depend on the order routes are registered in. The router (src/http/router.ts)
 * and the OpenAPI `pattern` of each parameter are built from this one table.
 */
const RESERVED = {
  idOrExternalId: ["import", "imports", "export", "merge"],
  key: ["backfills"],
  eventId: ["replay"],
  emailId: ["resend"],
  jobId: ["uploads"],
  address: ["import", "imports", "export"],
} as const;

export type PathParamName = keyof typeof RESERVED;

/** Not one of `words` as a whole segment: in the router the segment ends at `/` or the path's end. */
const notReserved = (words: readonly string[], end = "(?:/|$)") => `(?!(?:${words.join("|")})${end})`;

/** Hono's `:name{pattern}` for each constrained parameter: one path segment that is not a reserved word. */
export const ROUTER_PARAM_PATTERNS: Record<string, string> = Object.fromEntries(
  Object.entries(RESERVED).map(([name, words]) => [name, `${notReserved(words)}[^/]+`]),
);

/** The parameter's schema: what the router lets through, stated in the document as `pattern`. */
export const pathParam = (name: PathParamName, maxLength: number) =>
  z
    .string()
    .min(1)
    .max(maxLength)
    .regex(new RegExp(`^${notReserved(RESERVED[name], "$")}`))
    .openapi({
      description: `Any value but ${RESERVED[name].map((w) => `\`${w}\``).join(", ")} (those are other paths)`,
    });
