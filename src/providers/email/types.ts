export type OutgoingEmail = {
  /** Our email row id: the provider's idempotency key, so a retried send never sends twice. */
  idempotencyKey: string;
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
};

export type SendResult = { messageId: string; keepsRenderedCopy: boolean };

export interface EmailProvider {
  readonly name: string;
  send(email: OutgoingEmail): Promise<SendResult>;
}

/** A provider refusal. `retryable` (429, 5xx, network) means try again later; otherwise the email failed. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The provider's Retry-After (a 429), in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}
