import type { z } from "@hono/zod-openapi";
import { createApp } from "../src/app";

/**
 * Response conformance: every JSON response a test receives is checked against the schema its
 * route documents for that status (the same zod schema the OpenAPI document is generated from),
 * with no undocumented fields. `call()` in helpers.ts runs it on every request, so the docs and
 * the code can't drift on any route the suite exercises.
 */
type Documented = { method: string; pattern: RegExp; path: string; responses: Record<string, unknown> };

const routes: Documented[] = createApp()
  .openAPIRegistry.definitions.flatMap((d) => (d.type === "route" ? [d.route] : []))
  .map((route) => ({
    method: route.method.toUpperCase(),
    path: route.path,
    pattern: new RegExp(`^${route.path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    responses: route.responses as Record<string, unknown>,
  }));

/** The documented schema for this request's route and status, when it is a zod schema. */
export function documentedSchema(method: string, path: string, status: number): z.ZodType | undefined {
  // Definitions are in registration order, which is the order Hono matches routes in.
  const route = routes.find((r) => r.method === method && r.pattern.test(path));
  const response = route?.responses[String(status)] as { content?: Record<string, { schema?: unknown }> } | undefined;
  const schema = response?.content?.["application/json"]?.schema;
  return isZod(schema) ? schema : undefined;
}

const isZod = (value: unknown): value is z.ZodType =>
  typeof value === "object" && value !== null && "safeParse" in value && "_zod" in value;

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
  in?: z.ZodType;
};
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Paths of fields in `value` that the schema doesn't declare (zod objects strip them silently). */
export function undeclaredFields(schema: z.ZodType, value: unknown, at = "$"): string[] {
  const def = defOf(schema);
  switch (def.type) {
    case "object": {
      if (typeof value !== "object" || value === null) return [];
      const shape = def.shape ?? {};
      return Object.entries(value).flatMap(([key, child]) =>
        shape[key] ? undeclaredFields(shape[key], child, `${at}.${key}`) : [`${at}.${key}`],
      );
    }
    case "array":
      return Array.isArray(value)
        ? value.flatMap((item, i) => undeclaredFields(def.element!, item, `${at}[${i}]`))
        : [];
    case "optional":
    case "nullable":
    case "default":
    case "readonly":
      return value === undefined || value === null ? [] : undeclaredFields(def.innerType!, value, at);
    case "pipe":
      return undeclaredFields(def.in!, value, at);
    case "union": {
      const fits = def.options!.filter((option) => option.safeParse(value).success);
      const extras = fits.map((option) => undeclaredFields(option, value, at));
      return extras.find((list) => list.length === 0) ?? extras[0] ?? [];
    }
    case "record":
      return typeof value === "object" && value !== null
        ? Object.entries(value).flatMap(([key, child]) => undeclaredFields(def.valueType!, child, `${at}.${key}`))
        : [];
    default:
      return [];
  }
}

/** Throws when a JSON response doesn't match what its route documents for that status. */
export async function assertConforms(method: string, path: string, response: Response): Promise<void> {
  if (!(response.headers.get("content-type") ?? "").startsWith("application/json")) return;
  const schema = documentedSchema(method, path, response.status);
  if (!schema) return;
  const body: unknown = await response.clone().json();
  const parsed = schema.safeParse(body);
  const problems = parsed.success
    ? undeclaredFields(schema, body).map((p) => `undocumented field ${p}`)
    : [parsed.error.message];
  if (problems.length > 0) {
    throw new Error(
      `${method} ${path} → ${response.status} doesn't match its documented schema: ${problems.join("; ")}`,
    );
  }
}
