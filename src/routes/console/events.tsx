import { type Context, Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { apiGet, apiJson, query } from "./api";
import { ActionForm, render } from "./layout";
import { ErrorNote, Json, NextPage, param, Table, when } from "./ui";

type EventRow = {
  id: string;
  event: string;
  userId: string;
  source: string;
  occurredAt: string;
  receivedAt: string;
  processedAt: string | null;
  replayCount: number;
};
type Preview = {
  results: Array<{ eventId: string; journeys: Array<{ key: string; outcome: string }>; exits: unknown[] }>;
  errors: Array<{ eventId: string; error: string }>;
};
type Summary = { replayed: number; enrolled: number; exits: number; errors: Array<{ eventId: string; error: string }> };

/** The replay request a form describes: one event's id, or the list's filter. */
function replayRequest(form: Record<string, unknown>) {
  const text = (key: string) => (typeof form[key] === "string" && form[key] !== "" ? (form[key] as string) : undefined);
  const eventId = text("eventId");
  if (eventId) return { eventIds: [eventId] };
  return { filter: { event: text("event"), userId: text("userId") }, limit: 100 };
}

const ReplayFields = ({ form }: { form: Record<string, unknown> }) => (
  <>
    {["eventId", "event", "userId"].map((key) =>
      typeof form[key] === "string" && form[key] !== "" ? (
        <input type="hidden" name={key} value={form[key] as string} />
      ) : null,
    )}
  </>
);

type Ctx = Context<ConsoleEnv>;

async function getEvents(c: Ctx) {
  const filter = { event: c.req.query("event") ?? "", userId: c.req.query("userId") ?? "" };
  const page = await apiGet<{ events: EventRow[]; nextCursor: string | null }>(
    c,
    `/v1/admin/events${query({ ...filter, cursor: c.req.query("cursor"), limit: 50 })}`,
  );
  const body = (
    <>
      <form method="get" action="/console/events" class="filters">
        <label for="event">Event name</label>
        <input id="event" name="event" value={filter.event} maxlength={200} />
        <label for="userId">User id</label>
        <input id="userId" name="userId" value={filter.userId} maxlength={255} />
        <button type="submit">Search</button>
      </form>
      {page.ok ? (
        <>
          <Table
            caption="Events, newest first"
            head={["Event", "User", "Occurred", "Source", "Processed", "Replays"]}
            rows={page.data.events.map((e) => [
              <a href={`/console/events/${e.id}`}>{e.event}</a>,
              <a href={`/console/people/${encodeURIComponent(e.userId)}`}>{e.userId}</a>,
              when(e.occurredAt),
              e.source,
              when(e.processedAt),
              String(e.replayCount),
            ])}
          />
          <NextPage
            href={page.data.nextCursor ? `/console/events${query({ ...filter, cursor: page.data.nextCursor })}` : null}
          />
          {filter.event || filter.userId ? (
            <ActionForm c={c} action="/console/events/replay">
              <ReplayFields form={filter} />
              <button type="submit">Replay dry run (first 100 matching)</button>
            </ActionForm>
          ) : null}
        </>
      ) : (
        <ErrorNote error={page.error} />
      )}
    </>
  );
  return render(c, "Events", body);
}

async function getEventsId(c: Ctx) {
  const event = await apiGet<EventRow>(c, `/v1/admin/events/${encodeURIComponent(param(c, "id"))}`);
  if (!event.ok) return render(c, "Event", <ErrorNote error={event.error} />, event.status === 404 ? 404 : 400);
  const body = (
    <>
      <Json value={event.data} label="The stored event" />
      <ActionForm c={c} action="/console/events/replay">
        <input type="hidden" name="eventId" value={event.data.id} />
        <button type="submit">Replay dry run</button>
      </ActionForm>
    </>
  );
  return render(c, `Event ${event.data.event}`, body);
}

async function postEventsReplay(c: Ctx) {
  const form = await c.req.parseBody();
  const request = replayRequest(form);
  if (form.confirm !== "yes") {
    const preview = await apiJson<Preview>(c, "POST", "/v1/admin/events/replay", { ...request, dryRun: true });
    if (!preview.ok) return render(c, "Replay dry run", <ErrorNote error={preview.error} />, 400);
    const body = (
      <>
        <Table
          caption="What a replay would do"
          head={["Event", "Journeys", "Exits"]}
          rows={preview.data.results.map((r) => [
            <a href={`/console/events/${r.eventId}`}>{r.eventId}</a>,
            r.journeys.map((j) => `${j.key}: ${j.outcome}`).join(", ") || "none",
            String(r.exits.length),
          ])}
        />
        <Table caption="Errors" head={["Event", "Error"]} rows={preview.data.errors.map((e) => [e.eventId, e.error])} />
        <ActionForm c={c} action="/console/events/replay">
          <ReplayFields form={form} />
          <input type="hidden" name="confirm" value="yes" />
          <button type="submit" class="primary">
            Replay {preview.data.results.length} event(s)
          </button>
        </ActionForm>
      </>
    );
    return render(c, "Replay dry run", body);
  }
  const result = await apiJson<Summary>(c, "POST", "/v1/admin/events/replay", { ...request, dryRun: false });
  if (!result.ok) return render(c, "Replay", <ErrorNote error={result.error} />, 400);
  const { replayed, enrolled, exits, errors } = result.data;
  const body = (
    <>
      <p role="status" class="flash ok">
        Replayed {replayed} event(s): {enrolled} enrollment(s), {exits} exit(s), {errors.length} error(s).
      </p>
      <Table caption="Errors" head={["Event", "Error"]} rows={errors.map((e) => [e.eventId, e.error])} />
    </>
  );
  return render(c, "Replay done", body);
}

export function eventRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/events", getEvents);
  routes.get("/events/:id", getEventsId);
  routes.post("/events/replay", postEventsReplay);

  // Without `confirm`: a dry run, showing what would happen and the button for the real run.
  return routes;
}
