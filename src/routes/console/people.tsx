import { type Context, Hono } from "hono";
import type { Child } from "hono/jsx";
import type { ConsoleEnv } from "../../http/console-session";
import { enrollmentsOfUser } from "../../services/enrollments";
import { type ApiResult, apiGet, apiJson, query } from "./api";
import { ActionForm, flash, render } from "./layout";
import { Badge, ErrorNote, Json, NextPage, param, Table, when } from "./ui";

type Contact = {
  id: string;
  externalId: string;
  email: string | null;
  properties: Record<string, unknown>;
  unsubscribedAt: string | null;
  firstSeenAt: string | null;
  lastSeenAt: string | null;
  createdAt: string;
  updatedAt: string;
  importJobId: string | null;
};
type Change = { field: string; from: string | null; to: string | null; source: string; at: string };
type Detail = Contact & { emailChanges: Change[]; aliases: unknown[]; merges: unknown[] };
type EventRow = { id: string; event: string; occurredAt: string; source: string; processedAt: string | null };
type EmailRow = { id: string; templateKey: string; subject: string; status: string; createdAt: string };

const personHref = (contact: { externalId: string }) => `/console/people/${encodeURIComponent(contact.externalId)}`;

type Ctx = Context<ConsoleEnv>;

async function listPage(c: Ctx) {
  const search = c.req.query("search") ?? "";
  const cursor = c.req.query("cursor");
  const page = await apiGet<{ contacts: Contact[]; nextCursor: string | null }>(
    c,
    `/v1/admin/contacts${query({ search, cursor, limit: 50 })}`,
  );
  const body = (
    <>
      <form method="get" action="/console/people" class="filters">
        <label for="search">Email or user id contains</label>
        <input id="search" name="search" type="search" value={search} maxlength={320} />
        <button type="submit">Search</button>
      </form>
      {page.ok ? (
        <>
          <Table
            caption="People"
            head={["User id", "Email", "Last seen", "Updated"]}
            rows={page.data.contacts.map((p) => [
              <a href={personHref(p)}>{p.externalId}</a>,
              p.email ?? "—",
              when(p.lastSeenAt),
              when(p.updatedAt),
            ])}
          />
          <NextPage
            href={page.data.nextCursor ? `/console/people${query({ search, cursor: page.data.nextCursor })}` : null}
          />
        </>
      ) : (
        <ErrorNote error={page.error} />
      )}
    </>
  );
  return render(c, "People", body);
}

const Facts = ({ person }: { person: Detail }) => (
  <dl class="facts">
    <dt>User id</dt>
    <dd>{person.externalId}</dd>
    <dt>Email</dt>
    <dd>{person.email ?? "—"}</dd>
    <dt>Unsubscribed</dt>
    <dd>{when(person.unsubscribedAt)}</dd>
    <dt>First / last seen</dt>
    <dd>{`${when(person.firstSeenAt)} / ${when(person.lastSeenAt)}`}</dd>
    <dt>Last import</dt>
    <dd>{person.importJobId ? <a href={`/console/imports/${person.importJobId}`}>{person.importJobId}</a> : "—"}</dd>
  </dl>
);

const Section = ({ id, title, children }: { id: string; title: string; children: Child }) => (
  <section aria-labelledby={id}>
    <h2 id={id}>{title}</h2>
    {children}
  </section>
);

type Related = {
  events: ApiResult<{ events: EventRow[] }>;
  emails: ApiResult<{ emails: EmailRow[] }>;
  preferences: ApiResult<unknown>;
  enrollments: Array<{ journeyKey: string; status: string; enrolledAt: Date }>;
};

const Activity = ({ related: { events, emails, enrollments } }: { related: Related }) => (
  <>
    <Section id="events" title="Latest events">
      {events.ok ? (
        <Table
          caption="Latest events"
          head={["Event", "Occurred", "Source", "Processed"]}
          rows={events.data.events.map((e) => [
            <a href={`/console/events/${e.id}`}>{e.event}</a>,
            when(e.occurredAt),
            e.source,
            when(e.processedAt),
          ])}
        />
      ) : (
        <ErrorNote error={events.error} />
      )}
    </Section>
    <Section id="enrollments" title="Enrollments">
      <Table
        caption="Enrollments"
        head={["Journey", "Status", "Enrolled"]}
        rows={enrollments.map((e) => [
          <a href={`/console/journeys/${e.journeyKey}`}>{e.journeyKey}</a>,
          <Badge text={e.status} />,
          when(e.enrolledAt.toISOString()),
        ])}
      />
    </Section>
    <Section id="emails" title="Emails">
      {emails.ok ? (
        <Table
          caption="Emails"
          head={["Template", "Subject", "Status", "Created"]}
          rows={emails.data.emails.map((e) => [
            <a href={`/console/emails/${e.id}`}>{e.templateKey}</a>,
            e.subject,
            <Badge text={e.status} />,
            when(e.createdAt),
          ])}
        />
      ) : (
        <ErrorNote error={emails.error} />
      )}
    </Section>
  </>
);

const Erase = ({ c, person }: { c: Ctx; person: Detail }) => (
  <section aria-labelledby="erase" class="danger">
    <h2 id="erase">Erase this person</h2>
    <p>Deletes the contact, events, enrollments and emails for good (admin keys only). Type the user id to confirm.</p>
    <ActionForm c={c} action={`${personHref(person)}/erase`}>
      <label for="confirm">Type {person.externalId} to confirm</label>
      <input id="confirm" name="confirm" autocomplete="off" required />
      <button type="submit" class="danger">
        Erase person
      </button>
    </ActionForm>
  </section>
);

async function personPage(c: Ctx) {
  const detail = await apiGet<Detail>(c, `/v1/admin/contacts/${encodeURIComponent(param(c, "id"))}`);
  if (!detail.ok) return render(c, "Person", <ErrorNote error={detail.error} />, detail.status === 404 ? 404 : 400);
  const person = detail.data;
  const noEmails: ApiResult<{ emails: EmailRow[] }> = { ok: true, data: { emails: [] } };
  const [events, emails, preferences, enrollments] = await Promise.all([
    apiGet<{ events: EventRow[] }>(c, `/v1/admin/events${query({ userId: person.externalId, limit: 20 })}`),
    person.email
      ? apiGet<{ emails: EmailRow[] }>(c, `/v1/admin/emails${query({ to: person.email, limit: 20 })}`)
      : noEmails,
    apiGet<unknown>(c, `/v1/admin/contacts/${encodeURIComponent(person.id)}/preferences`),
    enrollmentsOfUser(c.var.db, person.externalId),
  ]);
  const body = (
    <>
      <Facts person={person} />
      <Section id="props" title="Properties">
        <Json value={person.properties} label="Properties" />
      </Section>
      <Section id="aliases" title="Aliases and merges">
        <Json value={{ aliases: person.aliases, merges: person.merges }} label="Aliases and merges" />
      </Section>
      <Activity related={{ events, emails, preferences, enrollments }} />
      <Section id="prefs" title="Preferences">
        {preferences.ok ? (
          <Json value={preferences.data} label="Preferences" />
        ) : (
          <ErrorNote error={preferences.error} />
        )}
      </Section>
      <Section id="history" title="History">
        <Table
          caption="Address and opt-out changes"
          head={["When", "Field", "From", "To", "Source"]}
          rows={person.emailChanges.map((h) => [when(h.at), h.field, h.from ?? "—", h.to ?? "—", h.source])}
        />
      </Section>
      <Erase c={c} person={person} />
    </>
  );
  return render(c, `Person ${person.externalId}`, body);
}

async function erase(c: Ctx) {
  const id = param(c, "id");
  const form = await c.req.parseBody();
  const back = `/console/people/${encodeURIComponent(id)}`;
  if (form.confirm !== id) {
    flash(c, "error", `Not erased: type the user id (${id}) exactly to confirm.`);
    return c.redirect(back, 303);
  }
  // A large person is erased over several requests (202: call again), as the API documents.
  for (let round = 0; round < 20; round++) {
    const result = await apiJson<{ complete?: boolean }>(c, "DELETE", `/v1/admin/contacts/${encodeURIComponent(id)}`);
    if (!result.ok) {
      flash(c, "error", result.error);
      return c.redirect(back, 303);
    }
    if (result.data.complete !== false) break;
  }
  flash(c, "ok", `${id} was erased.`);
  return c.redirect("/console/people", 303);
}

export function peopleRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/people", listPage);
  routes.get("/people/:id", personPage);
  routes.post("/people/:id/erase", erase);
  return routes;
}
