import { introspectWorkflow } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll } from "vitest";

type Introspector = Awaited<ReturnType<typeof introspectWorkflow>>;
export type WorkflowModifier = Parameters<Introspector["modifyAll"]>[0];

/**
 * Introspects every JourneyWorkflow instance the file's tests start (so none outlives the file),
 * for files that start workflows without waiting on them.
 */
export function introspectJourneysForFile() {
  let introspector: Introspector | undefined;
  beforeAll(async () => {
    introspector = await introspectWorkflow(env.JOURNEY_WORKFLOW);
  });
  afterAll(async () => introspector?.dispose());
}

/**
 * Per test: `const wf = await journeys(m => m.disableSleeps())` introspects the instances started
 * after it, with the modifier applied; disposed after each test.
 */
export function introspectJourneysPerTest() {
  const disposers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const dispose of disposers.splice(0)) await dispose();
  });
  return async function journeys(modify?: WorkflowModifier): Promise<Introspector> {
    const introspector = await introspectWorkflow(env.JOURNEY_WORKFLOW);
    disposers.push(() => introspector.dispose());
    if (modify) await introspector.modifyAll(modify);
    return introspector;
  };
}
