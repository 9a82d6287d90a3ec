import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

export type JourneyParams = { enrollmentId: string };

/** Runs one journey enrollment. Journey definitions arrive with the journeys issue. */
export class JourneyWorkflow extends WorkflowEntrypoint<Env, JourneyParams> {
  async run(event: WorkflowEvent<JourneyParams>, _step: WorkflowStep) {
    return { enrollmentId: event.payload.enrollmentId };
  }
}
