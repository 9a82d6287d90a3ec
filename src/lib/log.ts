/**
 * One structured JSON line per call, the shape Workers Logs and `wrangler tail` index. Every
 * line starts with its level, so test output can filter the routine `info` lines.
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

/** An error's message and stack for a log line. */
export function errorFields(error: unknown): Fields {
  return error instanceof Error ? { error: error.message, stack: error.stack } : { error: String(error) };
}
