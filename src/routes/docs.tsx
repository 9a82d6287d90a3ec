import type { OpenAPIHono } from "@hono/zod-openapi";
import type { FC } from "hono/jsx";
import { publicSecurity, rateLimitedResponse } from "./schemas";

/** The document and this page are operations too: public, rate limited like the other public routes. */
export function registerDocumentPaths(registry: OpenAPIHono["openAPIRegistry"]) {
  const common = { method: "get" as const, tags: ["Health"], security: publicSecurity };
  registry.registerPath({
    ...common,
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    summary: "This API's OpenAPI 3.1 document",
    responses: {
      ...rateLimitedResponse,
      200: { description: "The document", content: { "application/json": { schema: { type: "object" } } } },
    },
  });
  registry.registerPath({
    ...common,
    path: "/docs",
    operationId: "getApiReference",
    summary: "The API reference as an HTML page, rendered from /openapi.json",
    responses: { ...rateLimitedResponse, 200: { description: "HTML page" } },
  });
}

type Operation = {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Array<Record<string, unknown>>;
  operationId?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown; description?: string }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
};
type OpenApiDocument = {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
};

const METHODS = ["get", "post", "put", "patch", "delete"];

/** `security` as people read it: alternatives joined by "or"; `{}` (or none) is public. */
const authLabel = (security: Operation["security"]) =>
  !security?.length ? "public" : security.map((alt) => Object.keys(alt as object).join(" + ") || "public").join(" or ");

const Json: FC<{ value: unknown }> = ({ value }) => <pre>{JSON.stringify(value, null, 2)}</pre>;

const OperationView: FC<{ method: string; path: string; op: Operation }> = ({ method, path, op }) => (
  <section id={`${method}-${path}`}>
    <h3>
      <span class={`m ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>
      <small> · {authLabel(op.security)}</small>
    </h3>
    <p>
      <b>{op.summary}</b>
    </p>
    {op.description ? <p>{op.description}</p> : null}
    {op.parameters?.length ? (
      <table>
        <tr>
          <th>parameter</th>
          <th>in</th>
          <th>required</th>
          <th>schema</th>
        </tr>
        {op.parameters.map((p) => (
          <tr>
            <td>
              <code>{p.name}</code>
            </td>
            <td>{p.in}</td>
            <td>{p.required ? "yes" : "no"}</td>
            <td>
              <code>{JSON.stringify(p.schema)}</code>
            </td>
          </tr>
        ))}
      </table>
    ) : null}
    {op.requestBody?.content
      ? Object.entries(op.requestBody.content).map(([type, body]) => (
          <details>
            <summary>Request body ({type})</summary>
            <Json value={body.schema} />
          </details>
        ))
      : null}
    <details>
      <summary>Responses: {Object.keys(op.responses ?? {}).join(", ")}</summary>
      {Object.entries(op.responses ?? {}).map(([status, r]) => (
        <div>
          <b>{status}</b> {r.description}
          {r.content ? <Json value={Object.values(r.content)[0]?.schema} /> : null}
        </div>
      ))}
    </details>
  </section>
);

/** A self-contained reference page rendered from /openapi.json: no CDN, so it works offline. */
export const ApiReference: FC<{ doc: OpenApiDocument }> = ({ doc }) => {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method]! })),
  );
  const tags = [...new Set(operations.map((o) => o.op.tags?.[0] ?? "Other"))];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{doc.info.title} — API reference</title>
        <style>{`body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:12px}code{font-size:13px}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;font-size:13px}
section{border-top:1px solid #eee;padding:.4rem 0}.m{font-family:monospace;padding:0 .4rem;border-radius:3px;color:#fff}
.get{background:#2b7}.post{background:#27c}.put,.patch{background:#c80}.delete{background:#c33}`}</style>
      </head>
      <body>
        <h1>
          {doc.info.title} <small>{doc.info.version}</small>
        </h1>
        <p>{doc.info.description}</p>
        <p>
          Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
        </p>
        <nav>
          <ul>
            {tags.map((t) => (
              <li>
                <a href={`#tag-${t}`}>{t}</a>
              </li>
            ))}
          </ul>
        </nav>
        {tags.map((tag) => (
          <div>
            <h2 id={`tag-${tag}`}>{tag}</h2>
            {operations
              .filter((o) => (o.op.tags?.[0] ?? "Other") === tag)
              .map((o) => (
                <OperationView {...o} />
              ))}
          </div>
        ))}
        <h2>Schemas</h2>
        {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
          <details>
            <summary>{name}</summary>
            <Json value={schema} />
          </details>
        ))}
      </body>
    </html>
  );
};
