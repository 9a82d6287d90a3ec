// A small in-memory fake of the Cloudflare API for deploy tests: loopback only, a free port, every
// request recorded in order. It answers the calls wrangler makes during `npm run deploy`; anything
// else gets a 404 naming the route, so a new wrangler call shows up as a clear failure.
// D1 databases are real SQLite (node:sqlite), so migrations really run and are remembered.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { DatabaseSync } from "node:sqlite";

const ok = (result, extra = {}) => ({
  status: 200,
  body: { success: true, errors: [], messages: [], result, ...extra },
});
const fail = (status, code, message) => ({
  status,
  body: { success: false, errors: [{ code, message }], messages: [], result: null },
});
const hex = () => randomUUID().replaceAll("-", "");
/** One page of a list, with the result_info clients page by (they stop on an empty or last page). */
function paged(all, query, defaultPerPage = 20) {
  const perPage = Number(query.get("per_page") ?? defaultPerPage);
  const page = Number(query.get("page") ?? 1);
  const result = all.slice((page - 1) * perPage, page * perPage);
  const totalPages = Math.max(1, Math.ceil(all.length / perPage));
  return ok(result, {
    result_info: { page, per_page: perPage, count: result.length, total_count: all.length, total_pages: totalPages },
  });
}

/**
 * `failUploads`: how many Worker uploads to reject first (a Worker that fails to start, say).
 * `holdUploads`: never answer an upload (a deploy interrupted mid-upload); `nextUpload()` resolves
 * when the next one comes in.
 */
export async function startFakeCloudflare({
  accountId = "0123456789abcdef0123456789abcdef",
  subdomain = "hogsend-test",
  failUploads = 0,
  holdUploads = false,
} = {}) {
  let uploadWaiters = [];
  const nextUpload = () => new Promise((resolve) => uploadWaiters.push(resolve));
  const holdIfAsked = () => {
    for (const resolve of uploadWaiters) resolve();
    uploadWaiters = [];
    return holdUploads ? new Promise(() => {}) : null;
  };
  const state = {
    d1: new Map(), // name → { uuid, name, sqlite }
    kv: new Map(), // id → { id, title }
    r2: new Map(), // name → { name }
    queues: new Map(), // name → { queue_id, queue_name, consumers: [] }
    scripts: new Map(), // name → { bindings, placement, versions: [], schedules: [], deployedVersion }
    workflows: new Map(), // name → { name, class_name, script_name }
    assets: new Map(), // content hash → size: static asset contents the account holds
  };
  const requests = []; // { method, path, query, body?, status }
  const routes = [];
  const route = (method, pattern, handler) => {
    const keys = [];
    const source = pattern.replace(/:(\w+)/g, (_, key) => {
      keys.push(key);
      return "([^/]+)";
    });
    const regex = new RegExp(`^${source}$`);
    routes.push({ method, regex, keys, handler });
  };
  const acct = `/accounts/${accountId}`;

  // ---- D1 ----
  const d1Info = (db) => ({
    uuid: db.uuid,
    name: db.name,
    version: "production",
    created_at: db.createdAt,
    num_tables: 0,
    file_size: 0,
  });
  const findDb = (idOrName) => [...state.d1.values()].find((db) => db.uuid === idOrName || db.name === idOrName);
  route("GET", `${acct}/d1/database`, ({ query }) => paged([...state.d1.values()].map(d1Info), query, 10));
  route("POST", `${acct}/d1/database`, ({ json }) => {
    if (state.d1.has(json.name)) return fail(400, 7502, "A database with that name already exists");
    const db = {
      uuid: randomUUID(),
      name: json.name,
      createdAt: new Date().toISOString(),
      sqlite: new DatabaseSync(":memory:"),
    };
    state.d1.set(db.name, db);
    return ok({ ...d1Info(db), created_in_region: "WEUR" });
  });
  route("GET", `${acct}/d1/database/:id`, ({ params }) => {
    const db = findDb(params.id);
    return db ? ok(d1Info(db)) : fail(404, 7404, `The database ${params.id} could not be found`);
  });
  const runQuery = (db, sql, params = []) => {
    const started = performance.now();
    const rows = db.sqlite.prepare(sql).all(...params);
    return {
      results: rows,
      success: true,
      meta: { duration: performance.now() - started, changes: 0, rows_read: 0, rows_written: 0 },
    };
  };
  const appliedMigrationNames = (db) => {
    if (!db) return null;
    const table = db.sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'")
      .get();
    return table
      ? db.sqlite
          .prepare("SELECT name FROM d1_migrations ORDER BY id")
          .all()
          .map((row) => row.name)
      : [];
  };
  route("POST", `${acct}/d1/database/:id/query`, ({ params, json }) => {
    const db = findDb(params.id);
    if (!db) return fail(404, 7404, "database not found");
    const batch = Array.isArray(json) ? json : (json.batch ?? [json]);
    try {
      const results = [];
      for (const { sql, params: values } of batch) {
        // A multi-statement body without parameters (a migration file) runs whole.
        if (!values?.length && sql.trim().replace(/;\s*$/, "").includes(";")) {
          db.sqlite.exec(sql);
          results.push({ results: [], success: true, meta: { duration: 0 } });
        } else {
          results.push(runQuery(db, sql, values));
        }
      }
      return ok(results);
    } catch (error) {
      return fail(400, 7500, `${error.message}: SQLITE_ERROR`);
    }
  });

  // ---- KV ----
  route("GET", `${acct}/storage/kv/namespaces`, ({ query }) => paged([...state.kv.values()], query));
  route("POST", `${acct}/storage/kv/namespaces`, ({ json }) => {
    if ([...state.kv.values()].some((ns) => ns.title === json.title))
      return fail(400, 10014, "a namespace with this account ID and title already exists");
    const ns = { id: hex(), title: json.title, supports_url_encoding: true };
    state.kv.set(ns.id, ns);
    return ok(ns);
  });

  // ---- R2 ----
  route("GET", `${acct}/r2/buckets`, () => ok({ buckets: [...state.r2.values()] }));
  route("GET", `${acct}/r2/buckets/:name`, ({ params }) =>
    state.r2.has(params.name)
      ? ok(state.r2.get(params.name))
      : fail(404, 10006, "The specified bucket does not exist."),
  );
  route("POST", `${acct}/r2/buckets`, ({ json }) => {
    if (state.r2.has(json.name))
      return fail(409, 10004, "The bucket you tried to create already exists, and you own it.");
    const bucket = { name: json.name, creation_date: new Date().toISOString(), location: "WEUR" };
    state.r2.set(json.name, bucket);
    return ok(bucket);
  });

  // ---- Queues ----
  const queueInfo = (q) => ({
    ...q,
    created_on: q.created_on,
    modified_on: q.created_on,
    producers: [],
    producers_total_count: 0,
    consumers_total_count: q.consumers.length,
  });
  const findQueue = (id) => [...state.queues.values()].find((q) => q.queue_id === id);
  route("GET", `${acct}/queues`, ({ query }) => {
    const names = query.getAll("name");
    return paged(
      [...state.queues.values()].filter((q) => !names.length || names.includes(q.queue_name)).map(queueInfo),
      query,
      100,
    );
  });
  route("POST", `${acct}/queues`, ({ json }) => {
    if (state.queues.has(json.queue_name)) return fail(409, 11009, "A queue with this name already exists");
    const q = { queue_id: hex(), queue_name: json.queue_name, created_on: new Date().toISOString(), consumers: [] };
    state.queues.set(q.queue_name, q);
    return ok(queueInfo(q));
  });
  route("GET", `${acct}/queues/:id`, ({ params }) => {
    const q = findQueue(params.id);
    return q ? ok(queueInfo(q)) : fail(404, 11000, "queue not found");
  });
  route("GET", `${acct}/queues/:id/consumers`, ({ params }) => ok(findQueue(params.id)?.consumers ?? []));
  route("POST", `${acct}/queues/:id/consumers`, ({ params, json }) => {
    const q = findQueue(params.id);
    if (!q) return fail(404, 11000, "queue not found");
    // The API answers a worker consumer with `script` (it is created with `script_name`).
    const consumer = {
      ...json,
      script: json.script_name,
      consumer_id: hex(),
      type: json.type ?? "worker",
      created_on: new Date().toISOString(),
    };
    q.consumers.push(consumer);
    return ok(consumer);
  });
  route("PUT", `${acct}/queues/:id/consumers/:consumerId`, ({ params, json }) => {
    const q = findQueue(params.id);
    const index = q?.consumers.findIndex((c) => c.consumer_id === params.consumerId) ?? -1;
    if (index === -1) return fail(404, 11000, "consumer not found");
    q.consumers[index] = { ...q.consumers[index], ...json };
    return ok(q.consumers[index]);
  });

  // ---- Workers: services, script uploads, versions, deployments, settings, triggers ----
  const notFound = () => fail(404, 10007, "This Worker does not exist on your account.");
  const scriptOf = (name) => state.scripts.get(name);
  /** A multipart Worker upload: the metadata part (bindings, placement, …) and the module names. */
  async function readUpload({ raw, headers }) {
    const form = await new Request("http://fake/", {
      method: "POST",
      body: raw,
      headers: { "content-type": headers["content-type"] },
    }).formData();
    const part = form.get("metadata");
    const metadata = JSON.parse(typeof part === "string" ? part : await part.text());
    // FormData is iterable in Node (undici); the DOM-less lib this is checked with doesn't say so.
    const names = [.../** @type {Iterable<[string, unknown]>} */ (/** @type {unknown} */ (form))].map(([k]) => k);
    return { metadata, modules: names.filter((k) => k !== "metadata") };
  }
  /** Bindings as the API answers them: secrets without values, inherited ones resolved. */
  function resolveBindings(previous, uploaded) {
    return uploaded.map((binding) => {
      if (binding.type !== "inherit") return binding;
      const old = previous.find((b) => b.name === binding.name);
      if (!old) throw Object.assign(new Error(`inherit binding '${binding.name}' is invalid`), { code: 10056 });
      return old;
    });
  }
  async function storeVersion(name, request) {
    const { metadata, modules } = await readUpload(request);
    // A Worker with static assets names the upload session that completed them.
    const assets = metadata.assets ? completedAssets.get(metadata.assets.jwt) : null;
    if (metadata.assets && !assets)
      throw Object.assign(new Error("assets completion token is not valid"), { code: 10204 });
    const existing = scriptOf(name);
    const bindings = resolveBindings(existing?.bindings ?? [], metadata.bindings ?? []);
    // What the database looked like when this code was uploaded: migrations must come first.
    const appliedMigrations = Object.fromEntries(
      bindings.filter((b) => b.type === "d1").map((b) => [b.name, appliedMigrationNames(findDb(b.id))]),
    );
    const version = { id: randomUUID(), metadata, modules, bindings, appliedMigrations, assets };
    const script = existing ?? {
      name,
      tag: hex(),
      versions: [],
      schedules: [],
      subdomainEnabled: false,
      createdOn: new Date().toISOString(),
    };
    script.versions.push(version);
    script.bindings = bindings;
    script.placement = metadata.placement;
    state.scripts.set(name, script);
    return { script, version };
  }
  const publicBindings = (bindings) =>
    bindings.map(({ text, ...rest }) => (rest.type === "secret_text" ? rest : { ...rest, text }));

  // ---- Workers static assets: a session names the files (path → hash), answers which contents
  // are missing, takes them in buckets, and hands out a completion token the upload then cites ----
  const assetSessions = new Map(); // upload token → { manifest, missing }
  const completedAssets = new Map(); // completion token → manifest
  const completeSession = (token, manifest) => {
    const completion = `complete-${hex()}`;
    completedAssets.set(completion, manifest);
    assetSessions.delete(token);
    return completion;
  };
  route("POST", `${acct}/workers/scripts/:name/assets-upload-session`, ({ json }) => {
    const manifest = json?.manifest ?? {};
    const missing = [...new Set(Object.values(manifest).map((file) => file.hash))].filter((h) => !state.assets.has(h));
    const token = `upload-${hex()}`;
    assetSessions.set(token, { manifest, missing: new Set(missing) });
    // Nothing missing: the session's token is itself the completion token.
    if (missing.length === 0) return ok({ jwt: completeSession(token, manifest), buckets: [] });
    return ok({ jwt: token, buckets: [missing] });
  });
  route("POST", `${acct}/workers/assets/upload`, async ({ raw, headers }) => {
    const token = (headers.authorization ?? "").replace(/^Bearer /, "");
    const session = assetSessions.get(token);
    if (!session) return fail(401, 10001, "asset upload token is not valid");
    const form = await new Request("http://fake/", {
      method: "POST",
      body: raw,
      headers: { "content-type": headers["content-type"] },
    }).formData();
    for (const [hash, file] of form) {
      if (!session.missing.delete(hash)) return fail(400, 10002, `asset ${hash} was not asked for`);
      state.assets.set(hash, typeof file === "string" ? file.length : file.size);
    }
    if (session.missing.size > 0) return { status: 202, body: ok(null).body };
    return { status: 201, body: ok({ jwt: completeSession(token, session.manifest) }).body };
  });

  route("GET", `${acct}/workers/services/:name`, ({ params }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    return ok({
      id: params.name,
      default_environment: {
        environment: "production",
        script: { id: params.name, tag: script.tag, tags: [], last_deployed_from: "wrangler" },
      },
    });
  });
  route("PUT", `${acct}/workers/scripts/:name`, async (request) => {
    await holdIfAsked();
    if (failUploads > 0) {
      failUploads--;
      return fail(400, 10021, "Uncaught Error: fake startup failure");
    }
    try {
      const { script, version } = await storeVersion(request.params.name, request);
      script.deployedVersion = version.id;
      return ok({
        id: script.name,
        etag: hex(),
        deployment_id: version.id,
        startup_time_ms: 5,
        placement: script.placement,
      });
    } catch (error) {
      return fail(400, error.code ?? 10021, error.message);
    }
  });
  route("POST", `${acct}/workers/scripts/:name/versions`, async (request) => {
    await holdIfAsked();
    if (!scriptOf(request.params.name)) return notFound();
    try {
      const { version } = await storeVersion(request.params.name, request);
      return ok({ id: version.id, number: version.number, resources: { script: { etag: hex() } }, startup_time_ms: 5 });
    } catch (error) {
      return fail(400, error.code ?? 10021, error.message);
    }
  });
  route("POST", `${acct}/workers/scripts/:name/deployments`, ({ params, json }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    script.deployedVersion = json.versions[0].version_id;
    return ok({
      id: randomUUID(),
      versions: json.versions,
      strategy: json.strategy,
      created_on: new Date().toISOString(),
    });
  });
  route("GET", `${acct}/workers/scripts/:name/deployments`, ({ params }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    return ok({
      deployments: [{ id: randomUUID(), versions: [{ version_id: script.deployedVersion, percentage: 100 }] }],
    });
  });
  route("GET", `${acct}/workers/scripts/:name/settings`, ({ params }) => {
    const script = scriptOf(params.name);
    return script ? ok({ bindings: publicBindings(script.bindings), placement: script.placement }) : notFound();
  });
  route("PATCH", `${acct}/workers/scripts/:name/script-settings`, ({ params, json }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    script.scriptSettings = json;
    return ok(json);
  });
  route("GET", `${acct}/workers/scripts/:name/secrets`, ({ params }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    return ok(script.bindings.filter((b) => b.type === "secret_text").map(({ name, type }) => ({ name, type })));
  });
  route("PUT", `${acct}/workers/scripts/:name/schedules`, ({ params, json }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    script.schedules = json;
    return ok({ schedules: json });
  });
  route("GET", `${acct}/workers/scripts/:name/schedules`, ({ params }) =>
    ok({ schedules: scriptOf(params.name)?.schedules ?? [] }),
  );
  route("GET", `${acct}/workers/workers/:name`, ({ params }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    return ok({
      id: script.tag,
      name: script.name,
      subdomain: { enabled: script.subdomainEnabled, previews_enabled: false },
    });
  });
  route("GET", `${acct}/workers/subdomain`, () => ok({ subdomain }));
  route("GET", `${acct}/workers/scripts/:name/subdomain`, ({ params }) =>
    ok({ enabled: scriptOf(params.name)?.subdomainEnabled ?? false, previews_enabled: false }),
  );
  route("POST", `${acct}/workers/scripts/:name/subdomain`, ({ params, json }) => {
    const script = scriptOf(params.name);
    if (!script) return notFound();
    script.subdomainEnabled = json.enabled;
    return ok({ enabled: json.enabled, previews_enabled: json.previews_enabled ?? false });
  });

  // ---- The deployed Worker's health route, as the real one answers it to the admin key ----
  route("GET", "/v1/health", ({ headers }) => {
    const script = [...state.scripts.values()][0];
    const adminKey = script?.bindings.find((b) => b.name === "ADMIN_API_KEY")?.text;
    if (!adminKey || headers.authorization !== `Bearer ${adminKey}`)
      return fail(401, "UNAUTHORIZED", "Missing or invalid API key");
    const db = findDb(script.bindings.find((b) => b.type === "d1")?.id);
    const applied = appliedMigrationNames(db) ?? [];
    return {
      status: 200,
      body: {
        status: "ok",
        database: "reachable",
        migrations: { applied: applied.length, latest: applied.at(-1) ?? null, missingTables: [] },
      },
    };
  });

  // ---- Workflows ----
  route("PUT", `${acct}/workflows/:name`, ({ params, json }) => {
    const existing = state.workflows.get(params.name);
    const workflow = {
      id: existing?.id ?? randomUUID(),
      name: params.name,
      ...json,
      created_on: existing?.created_on ?? new Date().toISOString(),
    };
    state.workflows.set(params.name, workflow);
    return ok(workflow);
  });
  route("GET", `${acct}/workflows/:name`, ({ params }) =>
    state.workflows.has(params.name) ? ok(state.workflows.get(params.name)) : fail(404, 10200, "Workflow not found"),
  );

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks);
    const contentType = req.headers["content-type"] ?? "";
    let json;
    if (
      contentType.includes("application/json") ||
      (raw.length && raw[0] === 0x7b) ||
      (raw.length && raw[0] === 0x5b)
    ) {
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {}
    }
    const path = url.pathname.replace(/^\/client\/v4/, "");
    const record = { method: req.method, path, query: url.search };
    requests.push(record);
    let response;
    const match = routes.map((r) => ({ r, m: r.method === req.method && r.regex.exec(path) })).find(({ m }) => m);
    if (!match) {
      response = fail(404, 404, `fake Cloudflare API: no route for ${req.method} ${path}`);
    } else {
      const params = Object.fromEntries(match.r.keys.map((k, i) => [k, decodeURIComponent(match.m[i + 1])]));
      try {
        response = await match.r.handler({
          params,
          query: url.searchParams,
          json,
          raw,
          contentType,
          headers: req.headers,
        });
      } catch (error) {
        response = fail(500, 500, `fake Cloudflare API: ${error.stack}`);
      }
    }
    record.status = response.status;
    res.writeHead(response.status, { "content-type": response.contentType ?? "application/json" });
    res.end(typeof response.body === "string" ? response.body : JSON.stringify(response.body));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    accountId,
    subdomain,
    state,
    requests,
    route,
    nextUpload,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
