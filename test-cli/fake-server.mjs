// A tiny stand-in for a Hogsend deployment on 127.0.0.1: each test routes requests itself.
import { createServer } from "node:http";

/**
 * @param {(req: { method: string, path: string, query: URLSearchParams, headers: object, body: Buffer }) =>
 *   { status?: number, json?: unknown, text?: string, headers?: object }} handler
 */
export async function fakeServer(handler) {
  const requests = [];
  const load = { inFlight: 0, maxInFlight: 0 };
  const server = createServer(async (req, res) => {
    load.inFlight += 1;
    load.maxInFlight = Math.max(load.maxInFlight, load.inFlight);
    res.on("finish", () => {
      load.inFlight -= 1;
    });
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const url = new URL(req.url, "http://127.0.0.1");
    const request = {
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    requests.push(request);
    const reply = (await handler(request)) ?? { status: 404, json: { error: "No route", code: "NOT_FOUND" } };
    const headers = { ...(reply.headers ?? {}) };
    let body = reply.text ?? "";
    if (reply.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(reply.json);
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, load, close: () => new Promise((resolve) => server.close(resolve)) };
}
