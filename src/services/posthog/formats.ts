/** What to configure in PostHog, named in every answer to a body this endpoint can't read. */
export const DESTINATION_HELP =
  'Configure PostHog\'s "HTTP Webhook" destination (Data pipelines → Destinations → New → HTTP Webhook), method POST, with its default JSON body {"event": "{event}", "person": "{person}"} and the header x-posthog-webhook-secret';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Which older PostHog webhook sent this body, when one did. */
function legacyFormat(body: unknown): string | null {
  if (!isObject(body)) return null;
  if (typeof body.text === "string")
    return 'an action webhook message ({"text": …}, PostHog\'s legacy action webhooks)';
  if ("hook" in body && "data" in body) return 'a REST hook ({"hook", "data"}, PostHog\'s legacy Zapier-style hooks)';
  return null;
}

/**
 * The 400 message for a body that isn't the destination's: a legacy format is named as such;
 * otherwise the field problems follow the help.
 */
export function unreadablePayloadMessage(body: unknown, problems: string): string {
  const legacy = legacyFormat(body);
  if (legacy) return `This endpoint doesn't take ${legacy}. ${DESTINATION_HELP}.`;
  return `Not a PostHog webhook destination body (${problems}). ${DESTINATION_HELP}.`;
}
