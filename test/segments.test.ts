import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { CONDITION_OPS, type Condition, conditionHolds } from "../src/journeys/conditions";
import { conditionSql } from "../src/services/segments";

const PROPERTIES: Array<Record<string, unknown>> = [
  {},
  { plan: "pro", seats: 5, trial: true, score: 2.5, tags: ["beta", "vip", 3, true, null], company: { size: 50 } },
  { plan: "free", seats: 0, trial: false, score: null, tags: [], company: { size: "50", name: "Acme" } },
  { plan: "Pro", seats: "5", trial: "true", tags: "beta,vip", company: null, note: "" },
  { plan: "pro plan", seats: -1.5, trial: 1, tags: [["beta"]], company: { size: 1e6 } },
];

const PATHS = ["plan", "seats", "trial", "score", "tags", "company", "company.size", "company.name", "note", "missing"];
const VALUES: unknown[] = [
  "pro",
  "Pro",
  "beta",
  "vip",
  "",
  "5",
  "50",
  "true",
  5,
  0,
  2.5,
  50,
  1e6,
  -1.5,
  3,
  true,
  false,
  null,
  { size: 50 },
  ["beta"],
];

/** Every operator × path × value, plus the valueless ones. */
const CONDITIONS: Condition[] = PATHS.flatMap((property) =>
  CONDITION_OPS.flatMap((op): Condition[] =>
    op === "exists" || op === "not_exists" ? [{ property, op }] : VALUES.map((value) => ({ property, op, value })),
  ),
);

describe("conditionSql agrees with conditionHolds", () => {
  it(`on ${PROPERTIES.length} property sets × ${CONDITIONS.length} conditions`, async () => {
    const db = createDb(env.DB);
    const disagreements: string[] = [];
    for (const properties of PROPERTIES) {
      const json = JSON.stringify(properties);
      // One SELECT per slice of conditions: each column is one condition evaluated in SQL.
      for (let i = 0; i < CONDITIONS.length; i += 40) {
        const slice = CONDITIONS.slice(i, i + 40);
        const columns = sql.join(
          slice.map((c, j) => sql`(${conditionSql(sql`p.j`, c)}) AS c${sql.raw(String(j))}`),
          sql`, `,
        );
        const [row] = await db.all<Record<string, number>>(sql`WITH p(j) AS (SELECT ${json}) SELECT ${columns} FROM p`);
        slice.forEach((condition, j) => {
          const inSql = row![`c${j}`] === 1;
          if (inSql !== conditionHolds(properties, condition)) {
            disagreements.push(`${json} ${JSON.stringify(condition)}: sql=${inSql}`);
          }
        });
      }
    }
    expect(disagreements).toEqual([]);
  });
});
