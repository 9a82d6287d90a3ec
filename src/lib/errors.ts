import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

/** The closed set of error codes the API answers with, and the HTTP status each maps to. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  LENGTH_REQUIRED: 411,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "AppError";
    this.code = code;
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);

export type ErrorBody = { error: string; code: ErrorCode; requestId: string };

export function errorResponse(c: Context, error: AppError): Response {
  const body: ErrorBody = { error: error.message, code: error.code, requestId: requestIdOf(c) };
  return c.json(body, error.status);
}

export function requestIdOf(c: Context): string {
  return (c.get("requestId") as string | undefined) ?? "unknown";
}

/** "users.0.userId: Required" — names the failing field, as users fix their payload field by field. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

/** Maps anything thrown to the one error shape; never leaks internals on a 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    // Hono's own middleware (body limit, JSON parsing, media-type gate) speaks HTTPException.
    if (err.status === 413) return new AppError("PAYLOAD_TOO_LARGE", "Request body is too large");
    if (err.status === 415)
      return new AppError("UNSUPPORTED_MEDIA_TYPE", "Unsupported Content-Type: send application/json");
    if (err.status === 401) return new AppError("UNAUTHORIZED", "Missing or invalid API key");
    if (err.status === 403) return new AppError("FORBIDDEN", err.message || "Forbidden");
    if (err.status === 404) return new AppError("NOT_FOUND", err.message || "Not found");
    if (err.status === 429) return new AppError("RATE_LIMITED", err.message || "Too many requests");
    if (err.status === 400) return new AppError("BAD_REQUEST", err.message || "Malformed request body");
  }
  return new AppError("INTERNAL_ERROR", "Internal server error");
}
