import { createApp } from "./app";
import { dispatchQueue } from "./queues";

export { JourneyWorkflow } from "./journeys/workflow";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: dispatchQueue,
} satisfies ExportedHandler<Env>;
