import type { Hook } from "@hono/zod-openapi";
import { AppError, describeZodError } from "../lib/errors";
import type { AppEnv } from "./app-env";

/** zod failures from any route validator become one 400 that names the failing field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) {
    throw new AppError("VALIDATION_ERROR", describeZodError(result.error));
  }
};
