import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep, type WorkflowStepConfig } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import { buildDeps, type Deps } from "../composition";
import type { Properties } from "../db/schema";
import {
  type JourneyContext,
  type JourneyUser,
  type ReceivedEvent,
  type SendEmailResult,
  validateCall,
} from "../journeys/define";
import type { Duration } from "../journeys/duration";
import { findJourney } from "../journeys/registry";
import { deliverEmail, journeyEmailRow } from "../services/emails";
import { finishEnrollment, getEnrollment, isRunning, isRunningStatus, setRunningState } from "../services/enrollments";
import { firstEventSince, journeyUser } from "../services/journey-reads";
import { userSubscribedTo } from "../services/topic-preferences";
import { type JourneyParams, workflowEventType } from "../services/workflow-instances";

const SEND_STEP: WorkflowStepConfig = {
  retries: { limit: 5, delay: "30 seconds", backoff: "exponential" },
  timeout: "2 minutes",
};

/**
 * step.do whose result travels as JSON text: step results must be serializable, and typing
 * free-form properties as such would leak into every type that carries them.
 */
async function doJson<T>(
  step: WorkflowStep,
  name: string,
  config: WorkflowStepConfig,
  fn: () => Promise<T>,
): Promise<T> {
  const text = await step.do(name, config, async () => JSON.stringify((await fn()) ?? null));
  return JSON.parse(text) as T;
}

/** Thrown when the enrollment was exited (or otherwise ended) while the journey ran. */
class JourneyStopped extends Error {}

type Start = { journeyKey: string; user: JourneyUser; enrolledAt: number; running: boolean };

/**
 * Runs any registered journey for one enrollment. Each ctx call becomes a step whose name is
 * numbered by call order, so names are deterministic across replays of `run`.
 */
export class JourneyWorkflow extends WorkflowEntrypoint<Env, JourneyParams> {
  async run(event: WorkflowEvent<JourneyParams>, step: WorkflowStep) {
    const { enrollmentId } = event.payload;
    const deps = buildDeps(this.env);
    const { db } = deps;

    const start = await doJson(step, "load enrollment", {}, async (): Promise<Start> => {
      const enrollment = await getEnrollment(db, enrollmentId);
      return {
        journeyKey: enrollment.journeyKey,
        user: await journeyUser(db, enrollment.userId),
        enrolledAt: enrollment.enrolledAt.getTime(),
        running: isRunningStatus(enrollment.status),
      };
    });
    if (!start.running) return { enrollmentId, outcome: "not running" };

    const journey = findJourney(start.journeyKey);
    try {
      if (!journey) throw new NonRetryableError(`Unknown journey "${start.journeyKey}"`);
      await journey.run(start.user, new StepJourneyContext(step, deps, enrollmentId, start));
    } catch (error) {
      if (error instanceof JourneyStopped) return { enrollmentId, outcome: "stopped" };
      const message = error instanceof Error ? error.message : String(error);
      await step.do("mark failed", async () =>
        finishEnrollment(db, enrollmentId, { status: "failed", error: message }),
      );
      throw error;
    }
    await step.do("mark completed", async () => finishEnrollment(db, enrollmentId, { status: "completed" }));
    return { enrollmentId, outcome: "completed" };
  }
}

class StepJourneyContext implements JourneyContext {
  private calls = 0;

  constructor(
    private readonly step: WorkflowStep,
    private readonly deps: Deps,
    private readonly enrollmentId: string,
    private readonly start: Start,
  ) {}

  private name(kind: string, detail: string): string {
    this.calls += 1;
    return `${this.calls}:${kind}:${detail}`;
  }

  private checkCall(kind: Parameters<typeof validateCall>[0], arg: string) {
    try {
      validateCall(kind, arg);
    } catch (error) {
      throw new NonRetryableError((error as Error).message);
    }
  }

  private continueIf(running: boolean) {
    if (!running) throw new JourneyStopped();
  }

  async sendEmail({ template, props = {} }: { template: string; props?: Properties }): Promise<SendEmailResult> {
    this.checkCall("sendEmail", template);
    const name = this.name("sendEmail", template);
    const result = await doJson(
      this.step,
      name,
      SEND_STEP,
      async (): Promise<{ running: boolean } & SendEmailResult> => {
        if (!(await isRunning(this.deps.db, this.enrollmentId)))
          return { running: false, emailId: null, status: "skipped" };
        const row = await journeyEmailRow(this.deps.db, {
          enrollmentId: this.enrollmentId,
          journeyKey: this.start.journeyKey,
          stepKey: name,
          userId: this.start.user.userId,
          templateKey: template,
          props: JSON.parse(JSON.stringify(props)) as Properties,
        });
        if (!row) return { running: false, emailId: null, status: "skipped" };
        const email = await deliverEmail(this.deps.delivery, row.id);
        return { running: true, emailId: email.id, status: email.status };
      },
    );
    this.continueIf(result.running);
    return { emailId: result.emailId, status: result.status };
  }

  async sleep(duration: Duration): Promise<void> {
    this.checkCall("sleep", duration);
    const name = this.name("sleep", duration);
    this.continueIf(
      await this.step.do(`${name}:begin`, async () =>
        setRunningState(this.deps.db, this.enrollmentId, { status: "waiting", waitingFor: null }),
      ),
    );
    await this.step.sleep(name, duration);
    this.continueIf(
      await this.step.do(`${name}:end`, async () =>
        setRunningState(this.deps.db, this.enrollmentId, { status: "active" }),
      ),
    );
  }

  async waitForEvent(eventName: string, { timeout }: { timeout: Duration }): Promise<ReceivedEvent | null> {
    this.checkCall("waitForEvent", timeout);
    const name = this.name("waitForEvent", eventName);
    // Mark the wait in D1 first (ingest forwards events to waiting rows), then look for an event
    // that arrived before the mark, so an event can't slip between the two.
    const begin = await doJson(this.step, `${name}:begin`, {}, async () => {
      const running = await setRunningState(this.deps.db, this.enrollmentId, {
        status: "waiting",
        waitingFor: eventName,
      });
      return { running, earlier: running ? await this.eventSinceEnrollment(eventName) : null };
    });
    this.continueIf(begin.running);

    let received: ReceivedEvent | null = begin.earlier;
    if (!received) {
      try {
        const event = await this.step.waitForEvent<string>(name, { type: workflowEventType(eventName), timeout });
        received = JSON.parse(event.payload) as ReceivedEvent;
      } catch {
        received = null; // timed out: the journey's "not done" branch
      }
    }
    this.continueIf(
      await this.step.do(`${name}:end`, async () =>
        setRunningState(this.deps.db, this.enrollmentId, { status: "active" }),
      ),
    );
    return received;
  }

  async hasDoneEvent(eventName: string): Promise<boolean> {
    const name = this.name("hasDoneEvent", eventName);
    return this.step.do(name, async () => (await this.eventSinceEnrollment(eventName)) !== null);
  }

  async isSubscribed(topic: string): Promise<boolean> {
    this.checkCall("isSubscribed", topic);
    const name = this.name("isSubscribed", topic);
    return this.step.do(name, async () => userSubscribedTo(this.deps.db, this.start.user.userId, topic));
  }

  private async eventSinceEnrollment(eventName: string): Promise<ReceivedEvent | null> {
    const row = await firstEventSince(this.deps.db, {
      userId: this.start.user.userId,
      event: eventName,
      since: new Date(this.start.enrolledAt),
    });
    return row
      ? { eventId: row.id, event: row.event, properties: row.properties, occurredAt: row.occurredAt.toISOString() }
      : null;
  }
}
