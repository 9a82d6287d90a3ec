/**
 * RFC 7240: `Prefer: respond-async` (any case, among other comma-separated preferences, possibly
 * with parameters) asks for an acknowledgment instead of the finished result.
 */
export function prefersRespondAsync(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((preference) => preference.split(";")[0]!.trim().toLowerCase() === "respond-async");
}

export const PREFERENCE_APPLIED = { "Preference-Applied": "respond-async" };
