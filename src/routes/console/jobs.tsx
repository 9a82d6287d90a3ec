import { type Context, Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { type ApiResult, apiGet, apiJson, query } from "./api";
import { ActionForm, flash, render } from "./layout";
import { Badge, ErrorNote, NextPage, param, Table, when } from "./ui";

type Backfill = {
  id: string;
  journeyKey: string;
  status: string;
  dryRun: boolean;
  matched: number;
  enrolled: number;
  createdAt: string;
};
type Broadcast = {
  id: string;
  name: string | null;
  template: string;
  status: string;
  dryRun: boolean;
  targeted: number;
  queued: number;
  sent: number;
  failed: number;
  skipped: Record<string, number>;
  createdAt: string;
};
type Enrolled = {
  enrolled: number;
  skipped: number;
  results: Array<{ userId: string; enrolled: boolean; reason?: string }>;
};

const RUNNING = new Set(["pending", "processing"]);
const BROADCAST_CANCELLABLE = new Set(["scheduled", "pending", "sending"]);
const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

/** One user id per line, or `userId,email` (the contact's address when it has none yet). */
function pastedUsers(text: string) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [userId, userEmail] = line.split(",").map((part) => part.trim());
      return userEmail ? { userId, userEmail } : { userId };
    });
}

type Ctx = Context<ConsoleEnv>;

function BroadcastsSection({ c, broadcasts }: { c: Ctx; broadcasts: ApiResult<{ broadcasts: Broadcast[] }> }) {
  return (
    <section aria-labelledby="broadcasts">
      <h2 id="broadcasts">Broadcasts</h2>
      {broadcasts.ok ? (
        <Table
          caption="The 20 newest broadcasts"
          head={["Name", "Template", "Status", "Targeted", "Queued", "Sent", "Skipped", "Failed", "Created", "Action"]}
          rows={broadcasts.data.broadcasts.map((b) => [
            b.name ?? b.id,
            b.template,
            <Badge text={b.dryRun ? `${b.status} (dry run)` : b.status} />,
            String(b.targeted),
            String(b.queued),
            String(b.sent),
            String(total(b.skipped)),
            String(b.failed),
            when(b.createdAt),
            BROADCAST_CANCELLABLE.has(b.status) && !b.dryRun ? (
              <ActionForm c={c} action={`/console/jobs/broadcasts/${b.id}/cancel`}>
                <button type="submit">Cancel broadcast</button>
              </ActionForm>
            ) : (
              "—"
            ),
          ])}
        />
      ) : (
        <ErrorNote error={broadcasts.error} />
      )}
    </section>
  );
}

async function getJobs(c: Ctx) {
  const [page, broadcasts] = await Promise.all([
    apiGet<{ backfills: Backfill[]; nextCursor: string | null }>(
      c,
      `/v1/admin/journeys/backfills${query({ cursor: c.req.query("cursor"), limit: 20 })}`,
    ),
    apiGet<{ broadcasts: Broadcast[] }>(c, "/v1/admin/broadcasts?limit=20"),
  ]);
  const body = (
    <>
      <BroadcastsSection c={c} broadcasts={broadcasts} />
      <section aria-labelledby="backfills">
        <h2 id="backfills">Backfills</h2>
        {page.ok ? (
          <Table
            caption="Backfills, newest first"
            head={["Journey", "Status", "Matched", "Enrolled", "Created", "Action"]}
            rows={page.data.backfills.map((b) => [
              b.journeyKey,
              <Badge text={b.dryRun ? `${b.status} (dry run)` : b.status} />,
              String(b.matched),
              String(b.enrolled),
              when(b.createdAt),
              RUNNING.has(b.status) ? (
                <ActionForm c={c} action={`/console/jobs/backfills/${b.id}/cancel`}>
                  <button type="submit">Cancel backfill</button>
                </ActionForm>
              ) : (
                "—"
              ),
            ])}
          />
        ) : (
          <ErrorNote error={page.error} />
        )}
        {page.ok ? (
          <NextPage href={page.data.nextCursor ? `/console/jobs${query({ cursor: page.data.nextCursor })}` : null} />
        ) : null}
      </section>
      <section aria-labelledby="enroll">
        <h2 id="enroll">Batch enrollment</h2>
        <ActionForm c={c} action="/console/jobs/enroll" class="stack">
          <label for="journey">Journey key</label>
          <input id="journey" name="journey" required maxlength={64} />
          <label for="users">Users: one user id per line, or userId,email (up to 500)</label>
          <textarea id="users" name="users" rows={6} required />
          <label class="inline">
            <input type="checkbox" name="real" value="yes" /> Enroll (unticked: dry run)
          </label>
          <button type="submit">Enroll</button>
        </ActionForm>
      </section>
    </>
  );
  return render(c, "Jobs", body);
}

async function postJobsBackfillsIdCancel(c: Ctx) {
  const id = encodeURIComponent(param(c, "id"));
  const result = await apiJson<Backfill>(c, "POST", `/v1/admin/journeys/backfills/${id}/cancel`);
  flash(c, result.ok ? "ok" : "error", result.ok ? `Backfill ${result.data.status}.` : result.error);
  return c.redirect("/console/jobs", 303);
}

async function postJobsBroadcastCancel(c: Ctx) {
  const id = encodeURIComponent(param(c, "id"));
  const result = await apiJson<Broadcast>(c, "POST", `/v1/admin/broadcasts/${id}/cancel`);
  flash(c, result.ok ? "ok" : "error", result.ok ? `Broadcast ${result.data.status}.` : result.error);
  return c.redirect("/console/jobs", 303);
}

async function postJobsEnroll(c: Ctx) {
  const form = await c.req.parseBody();
  const journey = encodeURIComponent(String(form.journey ?? ""));
  const users = pastedUsers(String(form.users ?? ""));
  const result = await apiJson<Enrolled>(c, "POST", `/v1/admin/journeys/${journey}/enroll/batch`, {
    users,
    dryRun: form.real !== "yes",
  });
  if (!result.ok) return render(c, "Batch enrollment", <ErrorNote error={result.error} />, 400);
  const rows = result.data.results.map((r) => [r.userId, r.enrolled ? "enrolled" : (r.reason ?? "skipped")]);
  return render(
    c,
    form.real === "yes" ? "Batch enrollment" : "Batch enrollment (dry run)",
    <>
      <p class="flash ok" role="status">
        {result.data.enrolled} enrolled, {result.data.skipped} skipped.
      </p>
      <Table caption="Per user" head={["User", "Outcome"]} rows={rows} />
    </>,
  );
}

export function jobRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/jobs", getJobs);
  routes.post("/jobs/backfills/:id/cancel", postJobsBackfillsIdCancel);
  routes.post("/jobs/broadcasts/:id/cancel", postJobsBroadcastCancel);
  routes.post("/jobs/enroll", postJobsEnroll);

  return routes;
}
