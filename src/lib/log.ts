/**
 * One structured JSON line per call, the shape Workers Logs and `wrangler tail` index. Every
 * line starts with its level, so test output can filter the routine `info` lines.
 *
 * Logs are the one copy of data an erasure can't reach, so a line carries ids, codes and counts
 * only: never an address, an external id (the Mailchimp preset keys contacts by address),
 * properties, a raw row or a request path.
 */
type Fields = Record<string, unknown>;

function line(level: "info" | "warn" | "error", message: string, fields: Fields): string {
  return JSON.stringify({ level, message, ...fields });
}

export const log = {
  info: (message: string, fields: Fields = {}) => console.log(line("info", message, fields)),
  warn: (message: string, fields: Fields = {}) => console.warn(line("warn", message, fields)),
  error: (message: string, fields: Fields = {}) => console.error(line("error", message, fields)),
};

const MAX_MESSAGE = 200;

/**
 * drizzle wraps every failed statement as "Failed query: <sql>\nparams: <every bound value>"; the
 * underlying D1 error is its `cause`. Anything else is logged as itself.
 */
function underlying(error: Error): Error {
  return error.message.startsWith("Failed query:") && error.cause instanceof Error ? error.cause : error;
}

/**
 * The first line of a message with its values taken out: quoted literals (SQLite quotes the
 * values it names, RAISE messages included), anything shaped like an address, long digit runs.
 */
export function redactMessage(message: string): string {
  const first = message.split("\n", 1)[0] ?? "";
  return first
    .replace(/'(?:[^']|'')*'?|"(?:[^"\\]|\\.)*"?|`[^`]*`?/g, "?")
    .replace(/[^\s'"<>(),;:]+@[^\s'"<>(),;:]+/g, "?")
    .replace(/\d{5,}/g, "?")
    .slice(0, MAX_MESSAGE);
}

/**
 * An error for a log line: its class, its D1/SQLite code when it has one, its first line with
 * the values removed, and the stack frames (without the message the stack starts with).
 */
export function errorFields(error: unknown): Fields {
  if (!(error instanceof Error)) return { errorClass: typeof error, error: redactMessage(String(error)) };
  const cause = underlying(error);
  const code = (/\bSQLITE_[A-Z_]+/.exec(cause.message) ?? /\bD1_[A-Z_]+/.exec(cause.message))?.[0];
  const codeField = "code" in cause && typeof cause.code === "string" ? cause.code : code;
  const frames = (error.stack ?? "")
    .split("\n")
    .filter((frame) => /^\s+at /.test(frame))
    .join("\n");
  return {
    errorClass: cause.name,
    ...(codeField ? { errorCode: codeField } : {}),
    error: redactMessage(cause.message),
    ...(frames ? { stack: frames } : {}),
  };
}
