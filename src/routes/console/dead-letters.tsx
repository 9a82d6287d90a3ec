import { type Context, Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { apiGet, apiJson, query } from "./api";
import { ActionForm, flash, render } from "./layout";
import { ErrorNote, Json, NextPage, param, Table, when } from "./ui";

type DeadLetter = {
  id: string;
  queue: string;
  subject: string | null;
  attempts: number;
  error: string;
  createdAt: string;
  retriedAt: string | null;
  body: unknown;
};
type Retried = { requeued: Record<string, unknown> };

type Ctx = Context<ConsoleEnv>;

async function getDeadLetters(c: Ctx) {
  const queue = c.req.query("queue") ?? "";
  const page = await apiGet<{ deadLetters: DeadLetter[]; nextCursor: string | null }>(
    c,
    `/v1/admin/dead-letters${query({ queue, cursor: c.req.query("cursor"), limit: 50 })}`,
  );
  if (!page.ok) return render(c, "Dead letters", <ErrorNote error={page.error} />, 400);
  const body = (
    <>
      <p class="hint">
        Fix the cause first. <strong>Retry</strong> puts what a letter was about back to work once: a failed email is
        resent, a failed import or backfill resumes from its checkpoint, buffered events are ingested again (see
        docs/recovery.md).
      </p>
      <Table
        caption="Dead letters, newest first"
        head={["Queue", "Subject", "Attempts", "Error", "At", "Message", "Retry"]}
        rows={page.data.deadLetters.map((d) => [
          d.queue,
          d.subject ?? "—",
          String(d.attempts),
          d.error,
          when(d.createdAt),
          <Json value={d.body} label={`Message ${d.id}`} />,
          d.retriedAt ? (
            `retried ${when(d.retriedAt)}`
          ) : (
            <ActionForm c={c} action={`/console/dead-letters/${encodeURIComponent(d.id)}/retry`}>
              <button type="submit" aria-label={`Retry dead letter ${d.id}`}>
                Retry
              </button>
            </ActionForm>
          ),
        ])}
      />
      <NextPage
        href={page.data.nextCursor ? `/console/dead-letters${query({ queue, cursor: page.data.nextCursor })}` : null}
      />
    </>
  );
  return render(c, "Dead letters", body);
}

async function postDeadLetterRetry(c: Ctx) {
  const id = encodeURIComponent(param(c, "id"));
  const result = await apiJson<Retried>(c, "POST", `/v1/admin/dead-letters/${id}/retry`);
  const requeued = result.ok
    ? Object.entries(result.data.requeued)
        .map(([name, value]) => `${name} ${Array.isArray(value) ? value.join(", ") : String(value)}`)
        .join("; ")
    : "";
  flash(c, result.ok ? "ok" : "error", result.ok ? `Retried: ${requeued || "nothing left to start"}.` : result.error);
  return c.redirect("/console/dead-letters", 303);
}

/** Dead letters: what died, and a retry of each, once. */
export function deadLetterRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/dead-letters", getDeadLetters);
  routes.post("/dead-letters/:id/retry", postDeadLetterRetry);
  return routes;
}
