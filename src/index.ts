import { createApp } from "./app";
import { dispatchQueue } from "./queues";
import { runScheduled } from "./scheduled";

export { JourneyWorkflow } from "./workflows/journey-workflow";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: dispatchQueue,
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(runScheduled(env));
  },
} satisfies ExportedHandler<Env>;
