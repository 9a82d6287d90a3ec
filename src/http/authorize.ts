import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { grants } from "../services/api-keys/verify";
import {
  type AuditDraft,
  type AuditEntry,
  type AuditStart,
  type NamedId,
  settleAuditEntry,
  startAuditEntry,
  summarizeAnswer,
} from "../services/audit-log";
import type { AppEnv } from "./app-env";
import type { Operation } from "./operations";

/** Path parameters and answer fields that name a person: kept only as the keyed hash erasure uses. */
const PERSON_FIELDS = new Set(["idOrExternalId", "externalId", "userId", "address"]);

const decoded = (value: string) => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // not percent-encoded text: the router's raw segment is the id
  }
};

async function targetIds(c: Context<AppEnv>, params: Record<string, string>, answered: NamedId[] = []) {
  const named = [...Object.entries(params).map(([field, value]) => ({ field, value: decoded(value) })), ...answered];
  const ids: string[] = [];
  for (const { field, value } of named) {
    ids.push(PERSON_FIELDS.has(field) ? await c.var.deps.hash(value).catch(() => "hmac:unavailable") : value);
  }
  return [...new Set(ids)];
}

/** A read's answer (an export page) can be big and is streamed: only a change's answer is summarized. */
async function answerSummary(method: string, res: Response) {
  if (method === "GET" || !(res.headers.get("content-type") ?? "").startsWith("application/json")) {
    return summarizeAnswer(null);
  }
  return summarizeAnswer(
    await res
      .clone()
      .json()
      .catch(() => null),
  );
}

type Lookup = (method: string, path: string) => { operation: Operation; params: Record<string, string> } | undefined;

const sameEntry = (a: AuditEntry, b: AuditEntry) =>
  a.outcome === b.outcome &&
  a.status === b.status &&
  JSON.stringify([...a.targetIds].sort()) === JSON.stringify([...b.targetIds].sort()) &&
  JSON.stringify(Object.entries(a.counts).sort()) === JSON.stringify(Object.entries(b.counts).sort());

/**
 * After `authenticate`: 403 `FORBIDDEN` when the key lacks the scope the operation declares, and an
 * audit entry for every admin request that changes something (a refused one included). A path no
 * operation answers passes through to its 404/405.
 *
 * An operation declared `audit: "batch"` gets its entry as `c.var.audit`, which its service writes in
 * the change's own D1 batch (no extra round trip); a write follows only when the answer says more
 * than that entry (a failure, whose batch rolled the entry back; a count only the batch knew). Any
 * other change gets a `started` entry before it runs, settled after.
 */
export function authorize(lookup: Lookup) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.var.principal!;
    const matched = lookup(c.req.method, c.req.path);
    const needed = matched?.operation.scope;
    if (!matched || !needed) return next();
    const { operation, params } = matched;
    const start: AuditStart | null = operation.audit
      ? {
          id: newId(),
          at: new Date(),
          keyId: principal.id,
          keyName: principal.name,
          method: operation.method,
          route: operation.path,
          action: operation.action,
          requestId: c.var.requestId,
        }
      : null;
    if (!grants(principal.scopes, needed)) {
      if (start) {
        const refused = {
          outcome: "forbidden" as const,
          status: 403,
          targetIds: await targetIds(c, params),
          counts: {},
        };
        await settleAuditEntry(c.var.db, { ...start, ...refused });
      }
      throw new AppError("FORBIDDEN", `This key lacks the \`${needed}\` scope this operation needs`);
    }
    if (!start) return next();
    let draft: AuditDraft | null = null;
    if (operation.auditInBatch) {
      const planned = { outcome: "ok" as const, status: operation.successStatus, counts: {} };
      draft = { entry: { ...start, ...planned, targetIds: await targetIds(c, params) }, written: false };
      c.set("audit", draft);
    } else {
      await startAuditEntry(c.var.db, start);
    }
    await next();
    const { ids, counts } = await answerSummary(operation.method, c.res);
    const ended: AuditEntry = {
      ...start,
      outcome: c.res.status < 400 ? "ok" : "failed",
      status: c.res.status,
      targetIds: await targetIds(c, params, ids),
      counts: { ...draft?.entry.counts, ...counts },
    };
    if (draft?.written && sameEntry(draft.entry, ended)) return;
    // The change is done: a failed write leaves the entry as its batch wrote it (or `started`), and
    // must not turn the answer into a 500.
    await settleAuditEntry(c.var.db, ended).catch((error: unknown) =>
      log.error("audit entry not settled", { requestId: c.var.requestId, auditId: start.id, ...errorFields(error) }),
    );
  });
}
