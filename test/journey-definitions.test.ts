import { describe, expect, it } from "vitest";
import { templates } from "../src/emails/registry";
import { conditionsHold } from "../src/journeys/conditions";
import { defineJourney, type JourneyContext, type JourneyDefinition, validateCall } from "../src/journeys/define";
import { durationMs } from "../src/journeys/duration";
import { journeys } from "../src/journeys/registry";
import { testJourney } from "./helpers";

const base = testJourney({ key: "valid-journey" });

/**
 * Runs a journey's `run` against a recording context along every branch of its waits and checks,
 * validating each call (template exists, props fit it, durations parse) without a workflow.
 */
async function trace(journey: JourneyDefinition): Promise<string[][]> {
  const paths: string[][] = [];
  const explore = async (choices: boolean[]) => {
    const calls: string[] = [];
    let decision = 0;
    const choose = () => choices[decision++] ?? false;
    const ctx: JourneyContext = {
      async sendEmail({ template, props = {} }) {
        validateCall("sendEmail", template);
        const parsed = templates.get(template)!.props.safeParse(props);
        if (!parsed.success) throw new Error(`${journey.key}: props for ${template}: ${parsed.error.message}`);
        calls.push(`send ${template}`);
        return { emailId: "e", status: "sent" };
      },
      async sleep(duration) {
        validateCall("sleep", duration);
        calls.push(`sleep ${duration}`);
      },
      async waitForEvent(event, { timeout }) {
        validateCall("waitForEvent", timeout);
        calls.push(`wait ${event}`);
        return choose() ? { eventId: "x", event, properties: {}, occurredAt: new Date().toISOString() } : null;
      },
      async hasDoneEvent(event) {
        calls.push(`check ${event}`);
        return choose();
      },
      async isSubscribed(topic) {
        validateCall("isSubscribed", topic);
        calls.push(`subscribed? ${topic}`);
        return choose();
      },
    };
    await journey.run({ userId: "u", email: "u@example.com", properties: {} }, ctx);
    paths.push(calls);
    if (decision > choices.length) {
      await explore([...choices, true]);
      await explore([...choices, false]);
    }
  };
  await explore([]);
  return paths;
}

describe("journey definitions", () => {
  it.each(journeys.map((j) => [j.key, j]))("%s is valid along every branch", async (_key, journey) => {
    const paths = await trace(journey);
    expect(paths.length).toBeGreaterThanOrEqual(1);
    expect(paths.flat().some((call) => call.startsWith("send "))).toBe(true);
  });

  it("weekly-digest sends only to those subscribed to its opt-in topic", async () => {
    const paths = await trace(journeys.find((j) => j.key === "weekly-digest")!);
    expect(paths).toEqual(
      expect.arrayContaining([["subscribed? weekly-digest", "send weekly-digest"], ["subscribed? weekly-digest"]]),
    );
  });

  it("activation-welcome sends tips only when activation doesn't come", async () => {
    const paths = await trace(journeys.find((j) => j.key === "activation-welcome")!);
    expect(paths).toContainEqual(["send welcome", "wait user:activated", "send activation-tips"]);
    expect(paths).toContainEqual(["send welcome", "wait user:activated"]);
  });

  it("rejects bad definitions at start-up", () => {
    expect(() => defineJourney({ ...base, key: "Bad Key" })).toThrow(/key/);
    expect(() => defineJourney({ ...base, entryLimit: "once_per_period" })).toThrow(/entryPeriod/);
    expect(() => defineJourney({ ...base, entryLimit: "once_per_period", entryPeriod: "7 dayz" as never })).toThrow(
      /duration/,
    );
    expect(() =>
      defineJourney({ ...base, trigger: { event: "e", where: [{ property: "p", op: "like" as never, value: 1 }] } }),
    ).toThrow(/op/);
    expect(() => defineJourney({ ...base, exitOn: [{ event: "x", where: [{ property: "p", op: "eq" }] }] })).toThrow(
      /value/,
    );
    expect(() => validateCall("sendEmail", "no-such-template")).toThrow(/unknown email template/);
    expect(() => validateCall("sleep", "soon")).toThrow(/Invalid duration/);
    expect(() => validateCall("isSubscribed", "no-such-topic")).toThrow(/unknown topic/);
  });

  it("parses workflow durations", () => {
    expect(durationMs("2 days")).toBe(172_800_000);
    expect(durationMs("1 hour")).toBe(3_600_000);
    expect(durationMs("30 minutes")).toBe(1_800_000);
    expect(() => durationMs("0 days")).toThrow();
  });

  it("evaluates every condition operator", () => {
    const props = { plan: "pro", seats: 5, tags: ["a", "b"], nested: { country: "FR" }, note: "hello world" };
    const holds = (op: string, property: string, value?: unknown) =>
      conditionsHold(props, [{ property, op: op as never, value }]);
    expect(holds("eq", "plan", "pro")).toBe(true);
    expect(holds("neq", "plan", "free")).toBe(true);
    expect(holds("gt", "seats", 4)).toBe(true);
    expect(holds("gte", "seats", 5)).toBe(true);
    expect(holds("lt", "seats", 5)).toBe(false);
    expect(holds("lte", "seats", 5)).toBe(true);
    expect(holds("gt", "plan", 1)).toBe(false);
    expect(holds("exists", "nested.country")).toBe(true);
    expect(holds("not_exists", "nested.city")).toBe(true);
    expect(holds("contains", "tags", "b")).toBe(true);
    expect(holds("contains", "note", "world")).toBe(true);
    expect(
      conditionsHold(props, [
        { property: "plan", op: "eq", value: "pro" },
        { property: "seats", op: "gt", value: 10 },
      ]),
    ).toBe(false);
  });
});
