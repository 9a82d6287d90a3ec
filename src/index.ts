import { createApp } from "./app";

export { JourneyWorkflow } from "./journeys/workflow";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>) {
    // Consumers arrive with the import and journey issues; until then nothing is ever enqueued.
    batch.retryAll();
  },
} satisfies ExportedHandler<Env>;
