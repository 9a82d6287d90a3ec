// The package's typed client (hogsend-workers/client): retries on 429/5xx, honouring Retry-After.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "hogsend-workers/client";
import { fakeServer } from "./fake-server.mjs";

test("a 429 with Retry-After is retried after that many seconds, then the 200 is answered", async () => {
  let calls = 0;
  const server = await fakeServer(() =>
    ++calls === 1
      ? { status: 429, headers: { "retry-after": "1" }, json: { error: "Too many requests", code: "RATE_LIMITED" } }
      : { json: { status: "ok" } },
  );
  try {
    const client = createClient({ baseUrl: server.url, apiKey: "k" });
    const began = Date.now();
    const { data, response } = await client.GET("/v1/health");
    assert.equal(response.status, 200);
    assert.deepEqual(data, { status: "ok" });
    assert.equal(server.requests.length, 2);
    assert.ok(Date.now() - began >= 950, `waited ${Date.now() - began} ms, Retry-After said 1 s`);
    assert.equal(server.requests[1]?.headers.authorization, "Bearer k");
  } finally {
    await server.close();
  }
});

test("5xx without Retry-After: exponential backoff, bounded attempts, then the last answer", async () => {
  const server = await fakeServer(() => ({ status: 503, json: { error: "down", code: "UNAVAILABLE" } }));
  try {
    /** @type {number[]} */
    const waits = [];
    const sleep = async (/** @type {number} */ ms) => void waits.push(ms);
    const client = createClient({ baseUrl: server.url, apiKey: "k", retry: { attempts: 3, baseDelayMs: 100, sleep } });
    const { error, response } = await client.GET("/v1/health");
    assert.equal(response.status, 503);
    assert.deepEqual(error, { error: "down", code: "UNAVAILABLE" });
    assert.equal(server.requests.length, 3);
    assert.equal(waits.length, 2);
    assert.ok(waits[0] >= 50 && waits[0] <= 100 && waits[1] >= 100 && waits[1] <= 200, String(waits));
  } finally {
    await server.close();
  }
});

test("POST is retried only with an Idempotency-Key (or retry.post); a Retry-After past maxDelayMs is answered", async () => {
  const server = await fakeServer((req) =>
    req.path === "/v1/health"
      ? { status: 429, headers: { "retry-after": "3600" }, json: { error: "slow down", code: "RATE_LIMITED" } }
      : { status: 503, json: { error: "down", code: "UNAVAILABLE" } },
  );
  try {
    const sleep = async () => {};
    const client = createClient({ baseUrl: server.url, apiKey: "k", retry: { attempts: 2, sleep } });
    const body = { events: [{ event: "signed_up", userId: "u1" }] };
    await client.POST("/v1/ingest", { body: /** @type {any} */ (body) });
    assert.equal(server.requests.length, 1, "a POST without a key is sent once");
    await client.POST("/v1/ingest", { body: /** @type {any} */ (body), headers: { "Idempotency-Key": "k1" } });
    assert.equal(server.requests.length, 3, "with an Idempotency-Key it is retried");
    assert.equal(server.requests[2]?.body.toString(), JSON.stringify(body), "the retry sends the same body");
    const vouched = createClient({ baseUrl: server.url, retry: { attempts: 2, post: true, sleep } });
    await vouched.POST("/v1/ingest", { body: /** @type {any} */ (body) });
    assert.equal(server.requests.length, 5);

    const { response } = await client.GET("/v1/health");
    assert.equal(response.status, 429, "an hour's Retry-After is the caller's to decide");
    assert.equal(server.requests.length, 6);
  } finally {
    await server.close();
  }
});
