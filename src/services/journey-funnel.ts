import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type EmailStatus, emails, enrollments } from "../db/schema";
import { getJourney } from "../journeys/registry";
import { type EnrollmentCounts, noEnrollments } from "./enrollments";

export type FunnelEmailStep = {
  /** The workflow step that sends it: `{n}:sendEmail:{template}`, n counting the journey's calls. */
  step: string;
  template: string | null;
  /** Enrollments that reached the step (one email each: the step's row is unique per enrollment). */
  enrollments: number;
  byStatus: Partial<Record<EmailStatus, number>>;
};

export type JourneyFunnel = {
  journeyKey: string;
  enrolled: number;
  byStatus: EnrollmentCounts;
  /** The journey's email steps in the order its code reaches them. */
  emailSteps: FunnelEmailStep[];
  /** Running enrollments by what they wait for: an event's name, or null (a timer or a step under way). */
  running: Array<{ waitingFor: string | null; status: "active" | "waiting"; enrollments: number }>;
};

/** Steps are named `{n}:kind:detail`: order by n (the text order would put 10 before 2). */
const callNumber = (step: string) => Number.parseInt(step, 10) || 0;

/**
 * A journey's funnel over all its enrollments (not a page of them): how many are in each status,
 * how many reached each email step and what became of those emails, and where the running ones
 * wait. Three grouped reads, each on an index: enrollments by (journey, status), emails through
 * their (enrollment, step) key.
 */
export async function journeyFunnel(db: Database, key: string): Promise<JourneyFunnel> {
  getJourney(key);
  const [statuses, steps, running] = await db.batch([
    db
      .select({ status: enrollments.status, n: sql<number>`count(*)` })
      .from(enrollments)
      .where(eq(enrollments.journeyKey, key))
      .groupBy(enrollments.status),
    db
      .select({ step: emails.stepKey, template: emails.templateKey, status: emails.status, n: sql<number>`count(*)` })
      .from(enrollments)
      .innerJoin(emails, eq(emails.enrollmentId, enrollments.id))
      .where(eq(enrollments.journeyKey, key))
      .groupBy(emails.stepKey, emails.templateKey, emails.status),
    db
      .select({ waitingFor: enrollments.waitingFor, status: enrollments.status, n: sql<number>`count(*)` })
      .from(enrollments)
      .where(and(eq(enrollments.journeyKey, key), inArray(enrollments.status, ["active", "waiting"])))
      .groupBy(enrollments.waitingFor, enrollments.status),
  ]);
  const byStatus = noEnrollments();
  for (const row of statuses) byStatus[row.status] = row.n;
  const byStep = new Map<string, FunnelEmailStep>();
  for (const row of steps) {
    if (!row.step) continue;
    const entry = byStep.get(row.step) ?? { step: row.step, template: row.template, enrollments: 0, byStatus: {} };
    entry.enrollments += row.n;
    entry.byStatus[row.status] = row.n;
    byStep.set(row.step, entry);
  }
  return {
    journeyKey: key,
    enrolled: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    emailSteps: [...byStep.values()].sort((a, b) => callNumber(a.step) - callNumber(b.step)),
    running: running
      .map((row) => ({ waitingFor: row.waitingFor, status: row.status as "active" | "waiting", enrollments: row.n }))
      .sort((a, b) => b.enrollments - a.enrollments),
  };
}
