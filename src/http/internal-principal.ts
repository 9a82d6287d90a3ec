import type { Principal } from "../services/api-keys/verify";

/**
 * Requests the Worker builds for itself (the console calling the admin API on behalf of a signed-in
 * session) carry their principal here, keyed by the Request object: nothing from the network can
 * be in this map, so it can't be forged by a header or a cookie.
 */
const principals = new WeakMap<Request, Principal>();

export function asPrincipal(request: Request, principal: Principal): Request {
  principals.set(request, principal);
  return request;
}

export const internalPrincipal = (request: Request): Principal | undefined => principals.get(request);
