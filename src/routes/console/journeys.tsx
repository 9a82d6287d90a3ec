import { type Context, Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { type ApiResult, apiGet, apiJson, query } from "./api";
import { BarChart } from "./chart";
import { ActionForm, flash, render } from "./layout";
import { Badge, ErrorNote, NextPage, param, Table, when } from "./ui";

type Counts = { active: number; waiting: number; completed: number; exited: number; failed: number };
type Journey = { key: string; name: string; description: string; enabled: boolean; enrollments: Counts };
type Funnel = {
  enrolled: number;
  emailSteps: Array<{ step: string; template: string | null; enrollments: number; byStatus: Record<string, number> }>;
  running: Array<{ waitingFor: string | null; status: string; enrollments: number }>;
};
type Enrollment = { id: string; userId: string; status: string; waitingFor: string | null; enrolledAt: string };

const STATUS_ORDER = ["active", "waiting", "completed", "exited", "failed"] as const;

type Ctx = Context<ConsoleEnv>;

async function getJourneys(c: Ctx) {
  const list = await apiGet<{ journeys: Journey[] }>(c, "/v1/admin/journeys");
  if (!list.ok) return render(c, "Journeys", <ErrorNote error={list.error} />, 400);
  const rows = list.data.journeys.map((j) => [
    <a href={`/console/journeys/${j.key}`}>{j.name}</a>,
    <Badge text={j.enabled ? "enabled" : "disabled"} />,
    String(j.enrollments.active + j.enrollments.waiting),
    String(j.enrollments.completed),
    <ActionForm c={c} action={`/console/journeys/${j.key}/enabled`}>
      <input type="hidden" name="enabled" value={j.enabled ? "false" : "true"} />
      <button type="submit">{j.enabled ? `Disable ${j.key}` : `Enable ${j.key}`}</button>
    </ActionForm>,
  ]);
  return render(
    c,
    "Journeys",
    <Table caption="Journeys" head={["Journey", "State", "Running", "Completed", "Action"]} rows={rows} />,
  );
}

/** The journey's charts (by status, the funnel over email steps, where running ones wait) and its steps' fates. */
function FunnelSection({ journey, funnel }: { journey: Journey; funnel: ApiResult<Funnel> }) {
  const steps = funnel.ok ? funnel.data.emailSteps : [];
  const running = funnel.ok ? funnel.data.running : [];
  return (
    <>
      <div class="charts">
        <BarChart
          title="Enrollments by status"
          labels={[...STATUS_ORDER]}
          values={STATUS_ORDER.map((s) => journey.enrollments[s])}
        />
        {funnel.ok && (
          <>
            <BarChart
              title={`Funnel: enrolled, then each email step (of ${funnel.data.enrolled} enrollments)`}
              labels={["enrolled", ...steps.map((s) => s.step)]}
              values={[funnel.data.enrolled, ...steps.map((s) => s.enrollments)]}
            />
            <BarChart
              title="Running now, by what they wait for"
              labels={running.map((r) => (r.waitingFor ? `event ${r.waitingFor}` : `${r.status}: a timer or a step`))}
              values={running.map((r) => r.enrollments)}
            />
          </>
        )}
      </div>
      {funnel.ok ? (
        <Table
          caption="Email steps: what became of each step's emails"
          head={["Step", "Reached", "Emails by status"]}
          rows={steps.map((s) => [
            s.step,
            String(s.enrollments),
            Object.entries(s.byStatus)
              .map(([status, n]) => `${status} ${n}`)
              .join(", "),
          ])}
        />
      ) : (
        <ErrorNote error={funnel.error} />
      )}
    </>
  );
}

async function getJourneysKey(c: Ctx) {
  const key = encodeURIComponent(param(c, "key"));
  const status = c.req.query("status");
  const [journey, funnel, page] = await Promise.all([
    apiGet<Journey>(c, `/v1/admin/journeys/${key}`),
    apiGet<Funnel>(c, `/v1/admin/journeys/${key}/funnel`),
    apiGet<{ enrollments: Enrollment[]; nextCursor: string | null }>(
      c,
      `/v1/admin/journeys/${key}/enrollments${query({ status, cursor: c.req.query("cursor"), limit: 50 })}`,
    ),
  ]);
  if (!journey.ok) return render(c, "Journey", <ErrorNote error={journey.error} />, journey.status === 404 ? 404 : 400);
  const j = journey.data;
  const body = (
    <>
      <p>{j.description}</p>
      <FunnelSection journey={j} funnel={funnel} />
      {page.ok ? (
        <>
          <Table
            caption="Enrollments, newest first"
            head={["User", "Status", "Waiting for", "Enrolled"]}
            rows={page.data.enrollments.map((e) => [
              <a href={`/console/people/${encodeURIComponent(e.userId)}`}>{e.userId}</a>,
              <Badge text={e.status} />,
              e.waitingFor ?? "—",
              when(e.enrolledAt),
            ])}
          />
          <NextPage
            href={
              page.data.nextCursor ? `/console/journeys/${key}${query({ status, cursor: page.data.nextCursor })}` : null
            }
          />
        </>
      ) : (
        <ErrorNote error={page.error} />
      )}
    </>
  );
  return render(c, `Journey ${j.name}`, body);
}

async function postJourneysKeyEnabled(c: Ctx) {
  const key = param(c, "key");
  const form = await c.req.parseBody();
  const enabled = form.enabled === "true";
  const result = await apiJson<Journey>(c, "PATCH", `/v1/admin/journeys/${encodeURIComponent(key)}`, { enabled });
  flash(c, result.ok ? "ok" : "error", result.ok ? `${key} is ${enabled ? "enabled" : "disabled"}.` : result.error);
  return c.redirect("/console/journeys", 303);
}

export function journeyRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/journeys", getJourneys);
  routes.get("/journeys/:key", getJourneysKey);
  routes.post("/journeys/:key/enabled", postJourneysKeyEnabled);

  return routes;
}
