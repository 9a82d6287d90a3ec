import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Router } from "hono/router";
import { API_KEY_SCOPES, type ApiKeyScope } from "../db/vocabulary";
import type { AppEnv } from "./app-env";

/** What the auth layer knows of an operation, all read from its OpenAPI declaration. */
export type Operation = {
  method: string;
  /** The documented path, `{param}` form: the audit log's `route`. */
  path: string;
  /** The operationId: the audit log's `action`. */
  action: string;
  /** The scope its `security` names; an admin route that names none needs `admin` (fail closed). */
  scope: ApiKeyScope | null;
  /** Admin requests that change something get an audit entry; `x-audit` overrides (a bulk read: true). */
  audit: boolean;
  /** `x-audit: "batch"`: the handler's service writes the entry in the change's own D1 batch. */
  auditInBatch: boolean;
  /** The lowest 2xx it documents: the status an entry written inside the change's batch states. */
  successStatus: number;
};

type RouteDeclaration = {
  method: string;
  path: string;
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, unknown>;
  "x-audit"?: boolean | "batch";
};

const isScope = (value: string | undefined): value is ApiKeyScope =>
  (API_KEY_SCOPES as readonly string[]).includes(value ?? "");

function describe(route: RouteDeclaration): Operation {
  const declared = route.security?.flatMap((requirement) => requirement.apiKey ?? []).find(isScope);
  const method = route.method.toUpperCase();
  const admin = route.path.startsWith("/v1/admin/");
  return {
    method,
    path: route.path,
    action: route.operationId ?? `${method} ${route.path}`,
    scope: declared ?? (admin ? "admin" : null),
    audit: admin && (route["x-audit"] === undefined ? method !== "GET" : route["x-audit"] !== false),
    auditInBatch: admin && route["x-audit"] === "batch",
    successStatus: Math.min(
      ...Object.keys(route.responses)
        .map(Number)
        .filter((n) => n >= 200 && n < 300),
    ),
  };
}

const routeDeclarations = (app: OpenAPIHono<AppEnv>) =>
  app.openAPIRegistry.definitions.flatMap((d) => (d.type === "route" ? [d.route as unknown as RouteDeclaration] : []));

/**
 * Every operation that needs a scope documents the 403 it answers without it, and the 429 that
 * unverified keys from one IP get (src/http/auth.ts): added here, so a route states its scope once
 * (`scope(...)` in routes/schemas.ts) and its document follows.
 */
export function declareAuthResponses(app: OpenAPIHono<AppEnv>, responses: { 403: unknown; 429: unknown }) {
  for (const route of routeDeclarations(app)) {
    if (!describe(route).scope) continue;
    route.responses["403"] ??= responses[403];
    route.responses["429"] ??= responses[429];
  }
}

type Match = { operation: Operation; params: Record<string, string> };
type RouterMatch = [Array<[[unknown, { method: string; path: string }], Record<string, string>]>];

/** Finds the operation a request reaches (and its path parameters) through the app's own router. */
export function operationLookup(app: OpenAPIHono<AppEnv>) {
  let index: Map<string, Operation> | undefined;
  const indexed = () => {
    index ??= new Map(
      routeDeclarations(app).map((route) => {
        const op = describe(route);
        return [`${op.method} ${route.path.replaceAll(/\{(.+?)\}/g, ":$1")}`, op];
      }),
    );
    return index;
  };
  return (method: string, path: string): Match | undefined => {
    const wanted = method === "HEAD" ? "GET" : method;
    const [matches] = (app.router as Router<unknown>).match(wanted, path) as unknown as RouterMatch;
    for (const [[, route], params] of matches) {
      const operation = route.method === wanted ? indexed().get(`${wanted} ${route.path}`) : undefined;
      if (operation) return { operation, params };
    }
    return undefined;
  };
}
