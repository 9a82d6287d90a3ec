// The console's only script: live import progress, and the file-picked import (preview, dry run,
// run; multipart upload for large files). It calls /console/api/… (the admin API as this session)
// with the page's CSRF token. Pages work without it; only these two features need it.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const API = "/console/api/v1/admin";
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const LARGE = 50 * 1024 * 1024;
const PART = 10 * 1024 * 1024;

async function api(method, path, body, headers = {}) {
  const res = await fetch(`${API}${path}`, { method, body, headers: { "x-csrf-token": csrf, ...headers } });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error ?? `The API answered ${res.status}`);
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls one import job until it ends, calling onUpdate with each state. */
async function follow(jobId, onUpdate) {
  for (;;) {
    const job = await api("GET", `/contacts/import/${jobId}`);
    onUpdate(job);
    if (TERMINAL.has(job.status)) return job;
    await sleep(1000);
  }
}

function showProgress(element) {
  const id = element.dataset.job;
  const bar = element.querySelector("progress");
  const text = element.querySelector(".status-text");
  let first = null;
  follow(id, (job) => {
    first ??= { at: Date.now(), rows: job.processedRows + job.failedRows };
    const seconds = (Date.now() - first.at) / 1000;
    const rate = seconds > 0 ? Math.round((job.processedRows + job.failedRows - first.rows) / seconds) : 0;
    bar.max = job.bytesTotal ?? 1;
    bar.value = job.bytesProcessed;
    const of = job.totalRows === null ? "" : ` of ${job.totalRows}`;
    text.textContent = `${job.status}: ${job.processedRows} imported, ${job.failedRows} failed${of}${rate ? `, ${rate} rows/s` : ""}`;
    element.dataset.status = job.status;
  })
    .then((job) => {
      if (TERMINAL.has(job.status) && element.hasAttribute("data-reload")) location.reload();
    })
    .catch((error) => {
      text.textContent = error.message;
    });
}

for (const element of document.querySelectorAll("[data-job]")) showProgress(element);

// ---- a new import from a picked file ----

const formatOf = (name) => (/\.(ndjson|jsonl)$/i.test(name) ? "ndjson" : /\.json$/i.test(name) ? "json" : "csv");

/** The first rows of a CSV (quotes handled) or NDJSON text, header first. */
function firstRows(text, format, count = 6) {
  if (format !== "csv") {
    const objects = text
      .split("\n")
      .filter((line) => line.trim())
      .slice(0, count - 1)
      .map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return {};
        }
      });
    const keys = [...new Set(objects.flatMap((o) => Object.keys(o)))];
    return [keys, ...objects.map((o) => keys.map((k) => (o[k] === undefined ? "" : String(o[k]))))];
  }
  const rows = [[]];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length <= count; i++) {
    const ch = text[i];
    if (quoted && ch === '"' && text[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted && (ch === "," || ch === "\n")) {
      rows.at(-1).push(cell.replace(/\r$/, ""));
      cell = "";
      if (ch === "\n") rows.push([]);
    } else {
      cell += ch;
    }
  }
  return rows.filter((row) => row.length > 0).slice(0, count);
}

function previewTable(rows) {
  const table = document.createElement("table");
  const caption = table.createCaption();
  caption.textContent = "The file's first rows, as read";
  const [head, ...body] = rows;
  const headRow = table.createTHead().insertRow();
  for (const name of head ?? []) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    headRow.append(th);
  }
  const tbody = table.createTBody();
  for (const row of body) {
    const tr = tbody.insertRow();
    for (const value of row) tr.insertCell().textContent = value;
  }
  const wrap = document.createElement("div");
  wrap.className = "scroll";
  wrap.append(table);
  return wrap;
}

/** One request for a file up to 50 MB; above that an R2 multipart upload, 10 MiB parts. */
async function upload(file, options, say) {
  const format = formatOf(file.name);
  if (file.size <= LARGE) {
    const params = new URLSearchParams({ format, fileName: file.name, ...options });
    return api("POST", `/contacts/import?${params}`, file, { "content-type": "text/csv" });
  }
  const created = await api(
    "POST",
    "/contacts/import/uploads",
    JSON.stringify({ format, fileName: file.name, ...options }),
    {
      "content-type": "application/json",
    },
  );
  const parts = [];
  const total = Math.ceil(file.size / PART);
  for (let n = 1; n <= total; n++) {
    say(`Uploading part ${n} of ${total}…`);
    const part = await api(
      "PUT",
      `/contacts/import/uploads/${created.uploadId}/parts/${n}`,
      file.slice((n - 1) * PART, n * PART),
    );
    parts.push({ partNumber: n, etag: part.etag });
  }
  return api("POST", `/contacts/import/uploads/${created.uploadId}/complete`, JSON.stringify({ parts }), {
    "content-type": "application/json",
  });
}

const form = document.querySelector("form[data-upload]");
if (form) {
  const fileInput = form.querySelector("#file");
  const status = form.querySelector("#upload-status");
  const buttons = [form.querySelector("#dry-run"), form.querySelector("#run")];
  const say = (text) => {
    status.textContent = text;
  };
  const options = (dryRun) => {
    const preset = form.querySelector("#preset").value;
    return { ...(preset ? { preset } : {}), ...(dryRun ? { dryRun: "true" } : {}) };
  };
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) return;
    const text = await file.slice(0, 64 * 1024).text();
    form.querySelector("#preview-table").replaceChildren(previewTable(firstRows(text, formatOf(file.name))));
    form.querySelector("#preview").hidden = false;
    for (const button of buttons) button.disabled = false;
    say(`${file.name}: ${file.size} bytes, ${formatOf(file.name)}.`);
  });
  form.querySelector("#dry-run").addEventListener("click", async () => {
    for (const button of buttons) button.disabled = true;
    try {
      say("Dry run: uploading…");
      const { jobId } = await upload(fileInput.files[0], options(true), say);
      const job = await follow(jobId, (j) =>
        say(`Dry run ${j.status}: ${j.processedRows} valid, ${j.failedRows} failed rows so far…`),
      );
      say(
        `Dry run ${job.status}: would create ${job.wouldCreate ?? 0}, update ${job.wouldUpdate ?? 0}; ${job.failedRows} rows would fail${job.error ? ` (${job.error})` : ""}.`,
      );
    } catch (error) {
      say(error.message);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  form.querySelector("#run").addEventListener("click", async () => {
    for (const button of buttons) button.disabled = true;
    try {
      say("Uploading…");
      const { jobId } = await upload(fileInput.files[0], options(false), say);
      location.assign(`/console/imports/${jobId}`);
    } catch (error) {
      say(error.message);
      for (const button of buttons) button.disabled = false;
    }
  });
}
