import { type Context, Hono } from "hono";
import { IMPORT_PRESETS } from "../../db/vocabulary";
import type { ConsoleEnv } from "../../http/console-session";
import { apiGet, apiJson, query } from "./api";
import { ActionForm, flash, render } from "./layout";
import { Badge, ErrorNote, NextPage, param, Table, when } from "./ui";

export type ImportJob = {
  id: string;
  status: string;
  fileName: string | null;
  format: string;
  totalRows: number | null;
  processedRows: number;
  failedRows: number;
  bytesProcessed: number;
  bytesTotal: number | null;
  error: string | null;
  dryRun: boolean;
  preset: string | null;
  wouldCreate: number | null;
  wouldUpdate: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  errors?: Array<{ row: number; error: string }>;
  errorCount?: number;
};

const RUNNING = new Set(["pending", "processing"]);
export const PRESETS = IMPORT_PRESETS;

/** A job's progress; console.js refreshes every element with `data-job` while the job runs. */
export const Progress = ({ job, reload }: { job: ImportJob; reload?: boolean }) => (
  <div
    class="progress"
    data-job={RUNNING.has(job.status) ? job.id : undefined}
    data-reload={reload ? "" : undefined}
    data-status={job.status}
  >
    <progress
      max={job.bytesTotal ?? 1}
      value={job.bytesProcessed}
      aria-label={`Progress of ${job.fileName ?? job.id}`}
    />
    <span class="status-text" aria-live="polite">
      <Badge text={job.status} /> {job.processedRows} imported, {job.failedRows} failed
      {job.totalRows !== null ? ` of ${job.totalRows}` : ""}
    </span>
  </div>
);

const jobHref = (id: string) => `/console/imports/${id}`;

type Ctx = Context<ConsoleEnv>;

async function getImports(c: Ctx) {
  const cursor = c.req.query("cursor");
  const page = await apiGet<{ imports: ImportJob[]; nextCursor: string | null }>(
    c,
    `/v1/admin/contacts/imports${query({ limit: 20, cursor })}`,
  );
  const body = page.ok ? (
    <>
      <p>
        <a class="button primary" href="/console/new-import">
          New import
        </a>
      </p>
      <Table
        caption="Imports, newest first"
        head={["File", "Progress", "Created", "Options"]}
        rows={page.data.imports.map((job) => [
          <a href={jobHref(job.id)}>{job.fileName ?? job.id}</a>,
          <Progress job={job} />,
          when(job.createdAt),
          [job.dryRun ? "dry run" : "", job.preset ?? ""].filter(Boolean).join(", ") || "—",
        ])}
      />
      <NextPage href={page.data.nextCursor ? `/console/imports${query({ cursor: page.data.nextCursor })}` : null} />
    </>
  ) : (
    <ErrorNote error={page.error} />
  );
  return render(c, "Imports", body);
}

function getImportsNew(c: Ctx) {
  return render(
    c,
    "New import",
    <form id="new-import" class="stack" data-upload>
      <label for="file">Contacts file (CSV, NDJSON or a JSON array)</label>
      <input id="file" name="file" type="file" accept=".csv,.ndjson,.json,.jsonl,text/csv" required />
      <label for="preset">Exported from</label>
      <select id="preset" name="preset">
        <option value="">No preset (columns as named)</option>
        {PRESETS.map((preset) => (
          <option value={preset}>{preset}</option>
        ))}
      </select>
      <section aria-labelledby="preview-title" id="preview" hidden>
        <h2 id="preview-title">First rows</h2>
        <div id="preview-table" />
      </section>
      <div class="actions">
        <button type="button" id="dry-run" disabled>
          Dry run
        </button>
        <button type="button" id="run" class="primary" disabled>
          Import
        </button>
      </div>
      <p id="upload-status" role="status" aria-live="polite" />
      <p class="hint">
        Files over 50 MB go up in 10 MiB parts (multipart upload). Nothing is written until you choose Import; a dry run
        reads and checks the whole file.
      </p>
    </form>,
  );
}

async function getImportsId(c: Ctx) {
  const id = param(c, "id");
  const job = await apiGet<ImportJob>(c, `/v1/admin/contacts/import/${encodeURIComponent(id)}`);
  if (!job.ok) return render(c, "Import", <ErrorNote error={job.error} />, job.status === 404 ? 404 : 400);
  const j = job.data;
  const body = (
    <>
      <Progress job={j} reload />
      <dl class="facts">
        <dt>File</dt>
        <dd>{`${j.fileName ?? "—"} (${j.format})`}</dd>
        <dt>Options</dt>
        <dd>{[j.dryRun ? "dry run" : "real run", j.preset ? `preset ${j.preset}` : ""].filter(Boolean).join(", ")}</dd>
        <dt>Would create / update</dt>
        <dd>{j.dryRun ? `${j.wouldCreate ?? "—"} / ${j.wouldUpdate ?? "—"}` : "—"}</dd>
        <dt>Created / started / finished</dt>
        <dd>{`${when(j.createdAt)} / ${when(j.startedAt)} / ${when(j.finishedAt)}`}</dd>
        <dt>Error</dt>
        <dd>{j.error ?? "—"}</dd>
      </dl>
      {RUNNING.has(j.status) ? (
        <ActionForm c={c} action={`${jobHref(j.id)}/cancel`}>
          <button type="submit" class="danger">
            Cancel import
          </button>
        </ActionForm>
      ) : null}
      {(j.errorCount ?? 0) > 0 ? (
        <p>
          <a href={`/console/api/v1/admin/contacts/import/${j.id}/errors.csv`} download={`${j.id}.errors.csv`}>
            Download errors.csv ({j.errorCount} rows)
          </a>
        </p>
      ) : null}
      <Table
        caption="Failed rows (first 1000)"
        head={["Row", "Error"]}
        rows={(j.errors ?? []).map((e) => [String(e.row), e.error])}
      />
    </>
  );
  return render(c, `Import ${j.fileName ?? j.id}`, body);
}

async function postImportsIdCancel(c: Ctx) {
  const id = param(c, "id");
  const result = await apiJson<ImportJob>(c, "POST", `/v1/admin/contacts/import/${encodeURIComponent(id)}/cancel`);
  flash(c, result.ok ? "ok" : "error", result.ok ? `Import ${result.data.status}.` : result.error);
  return c.redirect(jobHref(id), 303);
}

export function importRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.get("/imports", getImports);
  routes.get("/new-import", getImportsNew);
  routes.get("/imports/:id", getImportsId);
  routes.post("/imports/:id/cancel", postImportsIdCancel);

  return routes;
}
