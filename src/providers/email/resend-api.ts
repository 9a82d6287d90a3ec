import { type EmailProvider, ProviderError } from "./types";

const RESEND_API = "https://api.resend.com/emails";

/** Resend's HTTP API. `fetcher` is the seam tests replace; production uses the global fetch. */
export function resendProvider(apiKey: string, fetcher: typeof fetch = fetch): EmailProvider {
  return {
    name: "resend",
    async send(email) {
      let response: Response;
      try {
        response = await fetcher(RESEND_API, {
          method: "POST",
          headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json",
            "idempotency-key": email.idempotencyKey,
          },
          body: JSON.stringify({
            from: email.from,
            to: [email.to],
            subject: email.subject,
            html: email.html,
            text: email.text,
            headers: email.headers,
          }),
        });
      } catch (error) {
        throw new ProviderError(`Resend unreachable: ${String(error)}`, true);
      }
      const body = (await response.json().catch(() => ({}))) as { id?: string; message?: string; name?: string };
      if (response.ok && body.id) return { messageId: body.id, keepsRenderedCopy: false };
      const message = `Resend ${response.status}: ${body.message ?? body.name ?? response.statusText}`;
      const retryAfter = Number(response.headers.get("retry-after"));
      throw new ProviderError(
        message,
        response.status === 429 || response.status >= 500,
        response.status,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    },
  };
}
