import { Validator } from "@cfworker/json-schema";
import type { z } from "@hono/zod-openapi";
import { createApp } from "../src/app";
import { ROUTER_PARAM_PATTERNS } from "../src/routes/path-params";

/**
 * Response conformance: every JSON response a test receives is checked against the schema its
 * route documents for that status (the same zod schema the OpenAPI document is generated from),
 * with no undocumented fields, and against the JSON schema /openapi.json states for it (what a
 * client generated from the document checks); a status the operation doesn't document fails too.
 * `call()` in helpers.ts runs it on every request, so the docs and the code can't drift on any
 * route the suite exercises.
 */
type Documented = { method: string; pattern: RegExp; path: string; responses: Record<string, unknown> };

const app = createApp();

/** A documented path as a regex, each parameter constrained as the router constrains it. */
export const pathPattern = (template: string) =>
  new RegExp(`^${template.replace(/\{([^}]+)\}/g, (_m, name: string) => ROUTER_PARAM_PATTERNS[name] ?? "[^/]+")}$`);

const routes: Documented[] = app.openAPIRegistry.definitions
  .flatMap((d) => (d.type === "route" ? [d.route] : []))
  .map((route) => ({
    method: route.method.toUpperCase(),
    path: route.path,
    pattern: pathPattern(route.path),
    responses: route.responses as Record<string, unknown>,
  }));

const routeFor = (method: string, path: string) =>
  routes.find((r) => (r.method === method || (method === "HEAD" && r.method === "GET")) && r.pattern.test(path));

/** The documented schema for this request's route and status, when it is a zod schema. */
export function documentedSchema(method: string, path: string, status: number): z.ZodType | undefined {
  const route = routeFor(method, path);
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

type OpenApiDocument = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>
  >;
  components?: object;
};
export const openApiDocument = app.getOpenAPI31Document({
  openapi: "3.1.0",
  info: { title: "conformance", version: "0" },
}) as unknown as OpenApiDocument;

const validators = new Map<string, Validator | null>();

/** The /openapi.json JSON schema of this response (its `$ref`s resolved against the document's components). */
function documentValidator(template: string, method: string, status: number): Validator | null {
  const key = `${method} ${template} ${status}`;
  if (!validators.has(key)) {
    const schema =
      openApiDocument.paths[template]?.[method.toLowerCase()]?.responses[String(status)]?.content?.["application/json"]
        ?.schema;
    validators.set(
      key,
      schema ? new Validator({ ...schema, components: openApiDocument.components } as never, "2020-12", false) : null,
    );
  }
  return validators.get(key)!;
}

/** Why `body` breaks the document's schema for this response (empty when it conforms). */
export function documentProblems(method: string, path: string, status: number, body: unknown): string[] {
  const route = routeFor(method, path);
  const validator = route && documentValidator(route.path, route.method, status);
  if (!validator) return [];
  const result = validator.validate(body);
  return result.valid ? [] : result.errors.slice(-3).map((e) => `/openapi.json: ${e.instanceLocation} ${e.error}`);
}

/** Throws when a response's status or JSON body isn't what its route documents. */
export async function assertConforms(method: string, path: string, response: Response): Promise<void> {
  const route = routeFor(method, path);
  // Unknown paths (404) and wrong methods (405) have no operation to conform to.
  if (!route) return;
  if (!(String(response.status) in route.responses)) {
    throw new Error(
      `${method} ${path} → ${response.status}, a status ${method} ${route.path} doesn't document (${Object.keys(route.responses).join(", ")})`,
    );
  }
  if (method === "HEAD" || !(response.headers.get("content-type") ?? "").startsWith("application/json")) return;
  const body: unknown = await response.clone().json();
  const schema = documentedSchema(method, path, response.status);
  const parsed = schema?.safeParse(body);
  const problems = !schema
    ? []
    : parsed!.success
      ? undeclaredFields(schema, body).map((p) => `undocumented field ${p}`)
      : [parsed!.error.message];
  problems.push(...documentProblems(method, path, response.status, body));
  if (problems.length > 0) {
    throw new Error(
      `${method} ${path} → ${response.status} doesn't match its documented schema: ${problems.join("; ")}`,
    );
  }
}
