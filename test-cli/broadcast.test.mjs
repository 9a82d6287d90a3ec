import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createClient } from "../bin/lib/api.mjs";
import { broadcastCommand, collectWhere } from "../bin/lib/broadcast.mjs";
import { fakeServer } from "./fake-server.mjs";

const collect = () => {
  const out = new PassThrough();
  const chunks = [];
  out.on("data", (c) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString() };
};

const skipped = { suppressed: 1, unsubscribed: 0, topic_opt_out: 2, no_address: 0, rate_limited: 0 };
const body = {
  template: "product-update",
  topic: "product-updates",
  filter: { where: collectWhere("plan=pro") },
  data: { headline: "We moved", body: "New home" },
};

test("--where: plan=pro, seats>=10, !trial become segment conditions", () => {
  assert.deepEqual(collectWhere("seats>=10", collectWhere("plan=pro")), [
    { property: "plan", op: "eq", value: "pro" },
    { property: "seats", op: "gte", value: 10 },
  ]);
  assert.deepEqual(collectWhere("!trial"), [{ property: "trial", op: "not_exists" }]);
  assert.throws(() => collectWhere("plan"), /a condition like/);
});

test("broadcast --dry-run prints the counts and the samples, and starts nothing", async () => {
  const server = await fakeServer((req) => {
    if (req.method !== "POST" || req.path !== "/v1/admin/broadcasts") return null;
    const sent = JSON.parse(req.body.toString());
    assert.equal(sent.dryRun, true);
    const samples = [{ contactId: "c1", to: "ada@example.com", subject: "We moved", text: "", html: "" }];
    return { json: { dryRun: true, targeted: 10, queued: 7, skipped, samples } };
  });
  try {
    const { out, text } = collect();
    const code = await broadcastCommand(createClient({ url: server.url, adminKey: "k" }), {
      body: { ...body, dryRun: true },
      tty: false,
      out,
    });
    assert.equal(code, 0);
    assert.match(text(), /Dry run: 10 contacts, 7 would be sent/);
    assert.match(text(), /Skipped: 1 suppressed, 2 topic_opt_out/);
    assert.match(text(), /Sample to ada@example\.com: We moved/);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.close();
  }
});

test("broadcast follows the broadcast with progress until it completes, with one Idempotency-Key", async () => {
  let polls = 0;
  const view = (n) => ({
    id: "b1",
    status: n >= 3 ? "completed" : "sending",
    dryRun: false,
    targeted: 10,
    queued: Math.max(0, 7 - n * 3),
    sent: Math.min(7, n * 3),
    failed: 0,
    cancelled: 0,
    skipped,
    error: null,
  });
  const server = await fakeServer((req) => {
    if (req.method === "POST" && req.path === "/v1/admin/broadcasts")
      return { status: 202, json: { broadcastId: "b1", status: "pending" } };
    if (req.path === "/v1/admin/broadcasts/b1") return { json: view(++polls) };
    return null;
  });
  try {
    const { out, text } = collect();
    const code = await broadcastCommand(createClient({ url: server.url, adminKey: "k" }), {
      body,
      tty: false,
      out,
      pollMs: 5,
    });
    assert.equal(code, 0);
    const start = server.requests.find((r) => r.method === "POST");
    assert.match(start.headers["idempotency-key"], /^cli-/);
    assert.deepEqual(JSON.parse(start.body.toString()).filter, {
      where: [{ property: "plan", op: "eq", value: "pro" }],
    });
    assert.match(text(), /Broadcast: \d+% /);
    assert.match(text(), /Broadcast b1 completed: 10 contacts, 7 sent, 0 failed, 0 cancelled/);
  } finally {
    await server.close();
  }
});
