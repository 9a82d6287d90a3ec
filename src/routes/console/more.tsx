import { Hono } from "hono";
import type { ConsoleEnv } from "../../http/console-session";
import { deadLetterRoutes } from "./dead-letters";
import { emailRoutes } from "./emails";
import { jobRoutes } from "./jobs";
import { journeyRoutes } from "./journeys";

/** The pages past the core ones (people, imports, events): emails, journeys, jobs, dead letters. */
export function moreRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.route("/", emailRoutes());
  routes.route("/", journeyRoutes());
  routes.route("/", jobRoutes());
  routes.route("/", deadLetterRoutes());
  return routes;
}
