import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { deliverEmail } from "../src/services/emails";
import { eraseContact } from "../src/services/erasure";
import { findKnownKeys } from "../src/services/idempotency";
import { hashedAddress } from "../src/services/suppressions";
import { adminAuth, call, expectErrorShape, ingestAuth, testHash, unique, waitForProcessedEvent } from "./helpers";
import { drainImport, seedJob } from "./imports-helpers";
import { introspectJourneysForFile } from "./workflows";

introspectJourneysForFile();

const erase = (id: string, query = "") =>
  call(`/v1/admin/contacts/${encodeURIComponent(id)}${query}`, { method: "DELETE", headers: adminAuth() });

const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

/** Buffered ingest, the path that teaches KV its keys (sync ingest leaves KV alone), until processed. */
async function ingest(userId: string, email: string, event: string, idempotencyKey = crypto.randomUUID()) {
  const res = await call("/v1/ingest", {
    method: "POST",
    headers: { ...ingestAuth(), prefer: "respond-async" },
    json: { event, userId, userEmail: email, idempotencyKey },
  });
  expect(res.status).toBe(202);
  await waitForProcessedEvent(idempotencyKey);
}

async function insertEmail(userId: string, to: string, status = "sent") {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO emails (id, user_id, to_address, template_key, props, subject, html, text, status, created_at, updated_at) VALUES (?, ?, ?, 'welcome', '{}', 'Hi', '<p>Hi Ada</p>', 'Hi Ada', ?, ?, ?)",
  )
    .bind(id, userId, to, status, Date.now(), Date.now())
    .run();
  return id;
}

/** Everything the database and KV still hold that names the person. */
async function traces(userId: string, email: string, keys: string[]) {
  const known = await findKnownKeys(env.IDEMPOTENCY_KEYS, keys);
  return {
    contacts: await count("SELECT count(*) AS n FROM contacts WHERE external_id = ? OR email = ?", userId, email),
    events: await count("SELECT count(*) AS n FROM events WHERE user_id = ? OR user_email = ?", userId, email),
    emails: await count("SELECT count(*) AS n FROM emails WHERE user_id = ? OR to_address = ?", userId, email),
    enrollments: await count("SELECT count(*) AS n FROM enrollments WHERE user_id = ?", userId),
    importErrors: await count(
      "SELECT count(*) AS n FROM import_errors WHERE instr(data, ?) > 0 OR instr(data, ?) > 0",
      userId,
      email,
    ),
    plainSuppressions: await count("SELECT count(*) AS n FROM suppressions WHERE email = ?", email),
    contactChanges: await count(
      "SELECT count(*) AS n FROM contact_changes WHERE old_value IN (?, ?) OR new_value IN (?, ?)",
      email,
      `old-${email}`,
      email,
      `old-${email}`,
    ),
    importSeenIds: await count("SELECT count(*) AS n FROM import_seen_ids WHERE external_id = ?", userId),
    deadLetters: await count(
      "SELECT count(*) AS n FROM dead_letters WHERE instr(body, ?) > 0 OR instr(body, ?) > 0",
      userId,
      email,
    ),
    kvKeys: known.size,
  };
}

/** Dead letters of buffered ingest whose events could not be written: one mixed, one only the person's. */
async function insertDeadLetters(userId: string, email: string) {
  const event = (user: string, address: string) => ({
    id: crypto.randomUUID(),
    event: "page:viewed",
    userId: user,
    userEmail: address,
  });
  const other = unique("dl-other");
  const mixed = {
    source: "api",
    events: [event(userId, email), event(other, `${other}@example.com`), { ...event(other, ""), userEmail: null }],
  };
  const theirs = { source: "api", events: [event(userId, email)] };
  const ids = [crypto.randomUUID(), crypto.randomUUID()];
  for (const [i, body] of [mixed, theirs].entries())
    await env.DB.prepare(
      "INSERT INTO dead_letters (id, queue, message_id, body, attempts, subject, error, created_at) VALUES (?, 'hogsend-ingest-events', ?, ?, 3, 'events', 'boom', ?)",
    )
      .bind(ids[i], ids[i], JSON.stringify(body), Date.now())
      .run();
  return { ids, otherEvents: mixed.events.slice(1) };
}

describe("DELETE /v1/admin/contacts/:idOrExternalId (erasure)", () => {
  it("leaves nothing of the person but a hashed suppression", async () => {
    const userId = unique("erase");
    const email = `${userId}@example.com`;
    const [signup, visit] = [`${userId}-signup`, `${userId}-visit`];
    const keys = [signup, visit];
    // The address changed once: the contact's history holds the old and the new address.
    await ingest(userId, `old-${email}`, "page:viewed", visit);
    await ingest(userId, email, "user:signed_up", signup);
    await insertEmail(userId, email);
    const deadLetters = await insertDeadLetters(userId, email);
    await env.DB.prepare("INSERT INTO import_seen_ids (job_id, external_id) VALUES ('job-running', ?)")
      .bind(userId)
      .run();
    // Failed import rows naming the person: a CSV row (bad email, so it failed) and a JSON one.
    const csv = await seedJob("csv", `externalId,email,plan\n${userId},not-an-email,pro\n${userId},x,pro\n`);
    const json = await seedJob("ndjson", `{"externalId":"${unique("other")}","email":"${email}","properties":[]}\n`);
    for (const job of [csv, json]) expect((await drainImport(job)).failedRows).toBeGreaterThan(0);
    const before = await traces(userId, email, keys);
    // The welcome journey may already have sent its email too: one or two email rows.
    expect(before).toMatchObject({
      contacts: 1,
      events: 2,
      enrollments: 1,
      importErrors: 3,
      kvKeys: 2,
      contactChanges: 1,
      importSeenIds: 1,
      deadLetters: 2,
    });

    const enrollment = await env.DB.prepare("SELECT id FROM enrollments WHERE user_id = ?")
      .bind(userId)
      .first<{ id: string }>();

    // The workflow stored the contact's address in a step result: its instance must go too.
    await (await env.JOURNEY_WORKFLOW.get(enrollment!.id)).status();
    const res = await erase(userId);
    expect(res.status).toBe(200);
    await expect(env.JOURNEY_WORKFLOW.get(enrollment!.id)).rejects.toThrow(/not.?found/i);
    expect(await res.json()).toEqual({
      complete: true,
      removed: {
        contact: 1,
        events: 2,
        emails: before.emails,
        enrollments: 1,
        workflowInstances: 1,
        importErrors: 3,
        idempotencyKeys: 2,
        contactChanges: 1,
        importSeenIds: 1,
        deadLetters: 2,
        aliases: 0,
      },
      hashedSuppressions: 2, // the address, and the earlier `old-…` one from its history
      // Nothing is archived in this file's storage.
      archive: "nothing_archived",
    });
    expect(await traces(userId, email, keys)).toEqual({
      contacts: 0,
      events: 0,
      emails: 0,
      enrollments: 0,
      importErrors: 0,
      plainSuppressions: 0,
      contactChanges: 0,
      importSeenIds: 0,
      deadLetters: 0,
      kvKeys: 0,
    });
    // The other people's dead-lettered events stay, as they were; the letter with only the person's is gone.
    const letters = await env.DB.prepare("SELECT id, body FROM dead_letters WHERE id IN (?, ?)")
      .bind(...deadLetters.ids)
      .all<{ id: string; body: string }>();
    expect(letters.results.map((l) => [l.id, JSON.parse(l.body).events])).toEqual([
      [deadLetters.ids[0], deadLetters.otherEvents],
    ]);
    const hashed = await env.DB.prepare("SELECT reason FROM suppressions WHERE email = ?")
      .bind(await hashedAddress(testHash, email))
      .first<{ reason: string }>();
    expect(hashed?.reason).toBe("erased");

    // Erased is gone: the same DELETE again removes nothing and says where the archive stands.
    const again = await erase(userId);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      complete: true,
      removed: { contact: 0, events: 0 },
      archive: "nothing_archived",
    });
  });

  it("keeps the address suppressed when it comes back under another id: nothing is sent", async () => {
    const userId = unique("erase-back");
    const email = `${userId}@Example.com`;
    await ingest(userId, email, "page:viewed");
    expect((await erase(userId)).status).toBe(200);

    const newId = unique("erase-new");
    await ingest(newId, email.toLowerCase(), "page:viewed");
    const emailId = await insertEmail(newId, email.toLowerCase(), "queued");
    const delivered = await deliverEmail(buildDeps(env).delivery, emailId);
    expect(delivered.status).toBe("suppressed");
    expect(delivered.error).toBe("Address suppressed: erased");
  });

  it("with suppress=false keeps no new suppression, but an earlier one stays, hashed with its reason", async () => {
    const plain = unique("erase-nosup");
    await ingest(plain, `${plain}@example.com`, "page:viewed");
    const bounced = unique("erase-bounced");
    await ingest(bounced, `${bounced}@example.com`, "page:viewed");
    await env.DB.prepare("INSERT INTO suppressions (email, reason, created_at) VALUES (?, 'hard_bounce', ?)")
      .bind(`${bounced}@example.com`, Date.now())
      .run();

    for (const id of [plain, bounced]) expect((await erase(id, "?suppress=false")).status).toBe(200);
    const reasons = await env.DB.prepare("SELECT email, reason FROM suppressions WHERE email IN (?, ?, ?, ?)")
      .bind(
        `${plain}@example.com`,
        `${bounced}@example.com`,
        await hashedAddress(testHash, `${plain}@example.com`),
        await hashedAddress(testHash, `${bounced}@example.com`),
      )
      .all<{ email: string; reason: string }>();
    expect(reasons.results).toEqual([
      { email: await hashedAddress(testHash, `${bounced}@example.com`), reason: "hard_bounce" },
    ]);
  });

  it("answers 409 and changes nothing while an import that could bring the person back is running", async () => {
    const userId = unique("erase-import");
    const email = `${userId}@example.com`;
    await ingest(userId, email, "page:viewed");
    const jobId = await seedJob("csv", `externalId,email\n${userId},${email}\n`);
    const dryRun = await seedJob("csv", `externalId,email\n${userId},${email}\n`);
    await env.DB.prepare("UPDATE import_jobs SET options = '{\"dryRun\":true}' WHERE id = ?").bind(dryRun).run();

    const refused = await expectErrorShape(await erase(userId), 409, "CONFLICT");
    expect(refused.error).toContain(`/v1/admin/contacts/import/${jobId}/cancel`);
    expect(await traces(userId, email, [])).toMatchObject({ contacts: 1, events: 1 });
    const hashed = await count(
      "SELECT count(*) AS n FROM suppressions WHERE email = ?",
      await hashedAddress(testHash, email),
    );
    expect(hashed).toBe(0);

    const cancel = await call(`/v1/admin/contacts/import/${jobId}/cancel`, { method: "POST", headers: adminAuth() });
    expect(cancel.status).toBe(200);
    // The dry run still pending writes no contacts, so it doesn't hold erasure back.
    const res = await erase(userId);
    expect(res.status).toBe(200);
    expect(await traces(userId, email, [])).toMatchObject({ contacts: 0, events: 0 });
  });

  it("is bounded per request and continues where it stopped", async () => {
    const userId = unique("erase-many");
    const email = `${userId}@example.com`;
    const events = Array.from({ length: 45 }, (_, i) => ({
      event: "page:viewed",
      userId,
      userEmail: email,
      idempotencyKey: `${userId}-${i}`,
    }));
    expect((await call("/v1/ingest/batch", { method: "POST", headers: ingestAuth(), json: { events } })).status).toBe(
      202,
    );
    const deps = buildDeps(env).erasure;
    const budget = { sliceSize: 5, maxSlices: 8, maxKvDeletes: 500 };
    const runs = [];
    for (let i = 0; i < 10; i++) {
      const result = await eraseContact(deps, userId, { suppress: true, budget });
      runs.push(result!);
      if (result!.complete) break;
    }
    // 8 slices a run, 5 rows a slice: 45 events alone need 9 slices, so at least 2 runs.
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.map((r) => r.complete)).toEqual([...runs.slice(1).map(() => false), true]);
    expect(runs.reduce((n, r) => n + r.removed.events, 0)).toBe(45);
    expect(runs.reduce((n, r) => n + r.removed.idempotencyKeys, 0)).toBe(45);
    expect(runs.map((r) => r.removed.contact)).toEqual([...runs.slice(1).map(() => 0), 1]);
    expect(await traces(userId, email, [])).toMatchObject({ contacts: 0, events: 0 });
  });

  it("answers the error shape for unknown ids, bad query values and no key, and changes nothing", async () => {
    await expectErrorShape(await erase(unique("nobody")), 404, "NOT_FOUND");
    const userId = unique("erase-bad");
    await ingest(userId, `${userId}@example.com`, "page:viewed");
    await expectErrorShape(await erase(userId, "?suppress=maybe"), 400, "VALIDATION_ERROR");
    await expectErrorShape(await call(`/v1/admin/contacts/${userId}`, { method: "DELETE" }), 401, "UNAUTHORIZED");
    expect(await count("SELECT count(*) AS n FROM events WHERE user_id = ?", userId)).toBe(1);
  });
});
