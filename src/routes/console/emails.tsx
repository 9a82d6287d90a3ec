import { type Context, Hono } from "hono";
import { EMAIL_STATUSES } from "../../db/vocabulary";
import type { ConsoleEnv } from "../../http/console-session";
import { RESENDABLE } from "../../services/email-resends";
import { apiGet, apiJson, query } from "./api";
import { ActionForm, flash, render } from "./layout";
import { Badge, ErrorNote, Json, NextPage, param, Table, when } from "./ui";

type EmailRow = {
  id: string;
  userId: string;
  toAddress: string;
  templateKey: string;
  subject: string;
  status: string;
  error: string | null;
  createdAt: string;
  sentAt: string | null;
};
type EmailDetail = EmailRow & { html: string | null; text: string | null };
type BulkResend = { resent: number; skipped: number; results: Array<{ emailId: string; outcome: string }> };

const StatusSelect = ({ id, value, options }: { id: string; value: string; options: readonly string[] }) => (
  <select id={id} name="status">
    <option value="">Any status</option>
    {options.map((s) => (
      <option value={s} selected={s === value}>
        {s}
      </option>
    ))}
  </select>
);

type Ctx = Context<ConsoleEnv>;

async function getEmails(c: Ctx) {
  const status = c.req.query("status") ?? "";
  const page = await apiGet<{ emails: EmailRow[]; nextCursor: string | null }>(
    c,
    `/v1/admin/emails${query({ status, cursor: c.req.query("cursor"), limit: 50 })}`,
  );
  const body = (
    <>
      <form method="get" action="/console/emails" class="filters">
        <label for="status">Status</label>
        <StatusSelect id="status" value={status} options={[...EMAIL_STATUSES]} />
        <button type="submit">Filter</button>
      </form>
      {page.ok ? (
        <Table
          caption="Emails, newest first"
          head={["Template", "To", "Status", "Created"]}
          rows={page.data.emails.map((e) => [
            <a href={`/console/emails/${e.id}`}>{e.templateKey}</a>,
            e.toAddress,
            <Badge text={e.status} />,
            when(e.createdAt),
          ])}
        />
      ) : (
        <ErrorNote error={page.error} />
      )}
      {page.ok ? (
        <NextPage
          href={page.data.nextCursor ? `/console/emails${query({ status, cursor: page.data.nextCursor })}` : null}
        />
      ) : null}
      <section aria-labelledby="bulk">
        <h2 id="bulk">Resend in bulk</h2>
        <ActionForm c={c} action="/console/emails/resend" class="filters">
          <label for="bulk-status">Status</label>
          <StatusSelect id="bulk-status" value="failed" options={[...RESENDABLE]} />
          <label for="bulk-limit">At most</label>
          <input id="bulk-limit" name="limit" type="number" min={1} max={1000} value="100" />
          <label class="inline">
            <input type="checkbox" name="real" value="yes" /> Send (unticked: dry run)
          </label>
          <button type="submit">Resend</button>
        </ActionForm>
      </section>
    </>
  );
  return render(c, "Emails", body);
}

async function postEmailsResend(c: Ctx) {
  const form = await c.req.parseBody();
  const status = typeof form.status === "string" && form.status ? form.status : undefined;
  const result = await apiJson<BulkResend>(c, "POST", "/v1/admin/emails/resend", {
    filter: status ? { status } : {},
    limit: Number(form.limit) || 100,
    dryRun: form.real !== "yes",
  });
  if (!result.ok) return render(c, "Resend", <ErrorNote error={result.error} />, 400);
  const verb = form.real === "yes" ? "Resent" : "Would resend";
  const body = (
    <>
      <p class="flash ok" role="status">
        {verb} {result.data.resent}, skipped {result.data.skipped}.
      </p>
      <Table
        caption="Per email"
        head={["Email", "Outcome"]}
        rows={result.data.results.map((r) => [r.emailId, r.outcome])}
      />
    </>
  );
  return render(c, "Resend", body);
}

async function getEmailsId(c: Ctx) {
  const id = encodeURIComponent(param(c, "id"));
  const email = await apiGet<EmailDetail>(c, `/v1/admin/emails/${id}`);
  if (!email.ok) return render(c, "Email", <ErrorNote error={email.error} />, email.status === 404 ? 404 : 400);
  const { html, text, ...fields } = email.data;
  const body = (
    <>
      <Json value={fields} label="The email" />
      {html ? (
        <iframe class="email-body" sandbox="" src={`/console/emails/${id}/body`} title="The rendered email" />
      ) : (
        <pre class="json">{text ?? "The body is no longer kept (EMAIL_BODY_RETENTION_DAYS)."}</pre>
      )}
      <ActionForm c={c} action={`/console/emails/${id}/resend`}>
        <button type="submit">Resend this email</button>
      </ActionForm>
    </>
  );
  return render(c, `Email: ${fields.subject}`, body);
}

async function getEmailsIdBody(c: Ctx) {
  const email = await apiGet<EmailDetail>(c, `/v1/admin/emails/${encodeURIComponent(param(c, "id"))}`);
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'",
  );
  c.header("X-Frame-Options", "SAMEORIGIN");
  return c.html(email.ok ? (email.data.html ?? "") : "", email.ok ? 200 : 404);
}

async function postEmailsIdResend(c: Ctx) {
  const id = param(c, "id");
  const result = await apiJson<{ emailId: string }>(c, "POST", `/v1/admin/emails/${encodeURIComponent(id)}/resend`);
  flash(c, result.ok ? "ok" : "error", result.ok ? `Queued again as ${result.data.emailId}.` : result.error);
  return c.redirect(result.ok ? `/console/emails/${result.data.emailId}` : `/console/emails/${id}`, 303);
}

export function emailRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/emails", getEmails);
  routes.post("/emails/resend", postEmailsResend);
  routes.get("/emails/:id", getEmailsId);
  routes.get("/emails/:id/body", getEmailsIdBody);
  routes.post("/emails/:id/resend", postEmailsIdResend);

  // The stored html, framed by the email page: sandboxed (no script, no same-origin), its own CSP.

  return routes;
}
