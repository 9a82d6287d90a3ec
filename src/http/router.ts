import type { Result, Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";

/**
 * Hono's trie router with each named path parameter constrained to its pattern
 * (src/routes/path-params.ts), so a route's reach doesn't depend on registration order.
 * (The RegExpRouter refuses lookaheads in patterns; the trie router takes them.)
 */
export class PathParamRouter<T> implements Router<T> {
  readonly name = "PathParamRouter";
  readonly #inner = new TrieRouter<T>();
  readonly #patterns: Record<string, string>;

  constructor(patterns: Record<string, string>) {
    this.#patterns = patterns;
  }

  add(method: string, path: string, handler: T): void {
    const constrained = path.replace(/:(\w+)(?=\/|$)/g, (whole, name: string) =>
      this.#patterns[name] ? `:${name}{${this.#patterns[name]}}` : whole,
    );
    this.#inner.add(method, constrained, handler);
  }

  match(method: string, path: string): Result<T> {
    return this.#inner.match(method, path);
  }
}

/** What a route carries in the router (hono-base adds `[handler, route]`): the route's method and path. */
type RouteEntry = [unknown, { method: string; path: string }];

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/**
 * The route paths (as registered) that answer `method` on `path`: middleware (method ALL) aside, and
 * each once (a route's validators and handler are entries of their own).
 */
export function routesFor(router: Router<unknown>, method: string, path: string): string[] {
  const [matches] = router.match(method, path) as unknown as [Array<[RouteEntry, unknown]>];
  return [...new Set(matches.flatMap(([[, route]]) => (route.method === method ? [route.path] : [])))];
}

/** The methods some route answers on `path` (HEAD with GET: Hono answers it with the GET route). */
export function allowedMethods(router: Router<unknown>, path: string): string[] {
  const methods = METHODS.filter((method) => routesFor(router, method, path).length > 0);
  return methods.includes("GET") ? ["GET", "HEAD", ...methods.filter((m) => m !== "GET")] : methods;
}
