import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows, runPlans, writes } from "../src/db/batch-plan";
import { type BatchStatement, createDb, runBatch } from "../src/db/client";
import { contacts } from "../src/db/schema";
import { unique } from "./helpers";

/**
 * runBatch relies on drizzle internals (`_prepare()` → `getQuery()` / `mapResult()`); these pin
 * what it needs, so a drizzle upgrade that changes them fails here, loudly.
 */
describe("runBatch and drizzle", () => {
  const db = createDb(env.DB);
  const now = new Date();
  const contact = (externalId: string) => ({ id: crypto.randomUUID(), externalId, createdAt: now, updatedAt: now });

  it("runs query-builder statements and raw SQL with parameters in one batch, mapping rows like drizzle", async () => {
    const externalId = unique("rb");
    const results = await runBatch(db, [
      db.insert(contacts).values(contact(externalId)).returning({ externalId: contacts.externalId }),
      db
        .select({ externalId: contacts.externalId, createdAt: contacts.createdAt })
        .from(contacts)
        .where(eq(contacts.externalId, externalId)),
      db.all<{ n: number }>(sql`SELECT count(*) AS n FROM contacts WHERE external_id = ${externalId}`),
      db
        .select({ twice: sql<number>`2 * 21`.as("twice") })
        .from(contacts)
        .limit(1),
    ]);
    expect(results[0]).toEqual([{ externalId }]);
    // mapResult: column names become field names, timestamps become Dates
    expect(results[1]).toEqual([{ externalId, createdAt: now }]);
    expect(results[2]).toEqual([{ n: 1 }]);
    expect(results[3]).toEqual([{ twice: 42 }]);
  });

  it("commits all statements or none", async () => {
    const externalId = unique("rb-atomic");
    await expect(
      runBatch(db, [db.insert(contacts).values(contact(externalId)), db.insert(contacts).values(contact(externalId))]),
    ).rejects.toThrow();
    const [found] = await runBatch(db, [db.select().from(contacts).where(eq(contacts.externalId, externalId))]);
    expect(found).toEqual([]);
  });

  it("fails with a message naming the cause when a statement has no _prepare()", async () => {
    const broken = { getSQL: () => sql`SELECT 1` } as unknown as BatchStatement;
    await expect(runBatch(db, [broken])).rejects.toThrow(/drizzle's _prepare\(\)/);
  });

  it("decodes typed plans by their own statements, whatever precedes them", async () => {
    const externalId = unique("rb-plan");
    const [, found, count] = await runPlans(
      db,
      writes([db.insert(contacts).values(contact(externalId))]),
      rows<{ externalId: string }>([
        db.select({ externalId: contacts.externalId }).from(contacts).where(eq(contacts.externalId, externalId)),
      ]),
      rows<{ n: number }>([db.all(sql`SELECT count(*) AS n FROM contacts WHERE external_id = ${externalId}`)]),
    );
    expect(found).toEqual([{ externalId }]);
    expect(count).toEqual([{ n: 1 }]);
  });
});
