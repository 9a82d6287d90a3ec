import { Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { dailyCounts } from "../../services/daily-metrics";
import { apiGet } from "./api";
import { BarChart } from "./chart";
import { render } from "./layout";
import { ErrorNote } from "./ui";

type Overview = {
  totalContacts: number;
  activeEnrollments: number;
  emailsSent24h: number;
  emailsSent7d: number;
  bounceRate30d: number;
  unsubscribeRate: number;
  journeys: Array<{ key: string; active: number; completed: number; exited: number; failed: number }>;
  imports: { running: number; completedToday: number; failedRowsToday: number };
  backfills: { running: number };
  deadLetters: { notRetried: number };
};

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;

export function overviewRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/", async (c) => {
    // Charts are reads of the same tables the metrics route reads; only signed-in keys (read) get here.
    const [overview, daily] = await Promise.all([
      apiGet<Overview>(c, "/v1/admin/metrics/overview"),
      dailyCounts(c.var.db, { days: 14, cache: c.var.deps.dailyMetricsCache }),
    ]);
    if (!overview.ok) return render(c, "Overview", <ErrorNote error={overview.error} />, 400);
    const o = overview.data;
    const statuses = Object.keys(daily.emailsByStatus).sort();
    const body = (
      <>
        <ul class="tiles" aria-label="Totals">
          <li>
            <strong>{o.totalContacts}</strong> contacts
          </li>
          <li>
            <strong>{o.activeEnrollments}</strong> active enrollments
          </li>
          <li>
            <strong>{o.emailsSent24h}</strong> emails sent (24 h), {o.emailsSent7d} (7 d)
          </li>
          <li>
            <strong>{percent(o.bounceRate30d)}</strong> bounced (30 d), {percent(o.unsubscribeRate)} unsubscribed
          </li>
          <li>
            <strong>{o.imports.running}</strong> imports running, {o.backfills.running} backfills running
          </li>
          <li>
            <strong>{o.deadLetters.notRetried}</strong> <a href="/console/dead-letters">dead letters</a> not retried
          </li>
        </ul>
        <div class="charts">
          <BarChart title="Events per day (UTC)" labels={daily.days} values={daily.events} />
          <BarChart title="Emails per day (UTC)" labels={daily.days} values={daily.emails} />
          <BarChart
            title="Emails by status (14 days)"
            labels={statuses}
            values={statuses.map((s) => daily.emailsByStatus[s] ?? 0)}
          />
          <BarChart
            title="Active enrollments by journey"
            labels={o.journeys.map((j) => j.key)}
            values={o.journeys.map((j) => j.active)}
          />
        </div>
      </>
    );
    return render(c, "Overview", body);
  });
  return routes;
}
