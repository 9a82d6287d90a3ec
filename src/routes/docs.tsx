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
    summary: "The interactive API reference (Scalar), rendered in the browser from /openapi.json",
    responses: { ...rateLimitedResponse, 200: { description: "HTML page" } },
  });
}

/** Scalar's bundle and its configuration, served from public/ (Workers static assets, this origin). */
export const SCALAR_SCRIPTS = ["/scalar/api-reference.js", "/scalar/init.js"];

/** The shell of the reference page; Scalar renders it in the browser from /openapi.json. */
export const ApiReference: FC<{ title: string }> = ({ title }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title} — API reference</title>
    </head>
    <body>
      <noscript>
        The API reference needs JavaScript. The same content, machine-readable:{" "}
        <a href="/openapi.json">/openapi.json</a>.
      </noscript>
      <div id="reference" />
      {SCALAR_SCRIPTS.map((src) => (
        <script src={src} />
      ))}
    </body>
  </html>
);
