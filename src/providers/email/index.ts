import { logProvider } from "./log";
import { resendProvider } from "./resend-api";
import type { EmailProvider } from "./types";

export type ProviderConfig = { EMAIL_PROVIDER: string; RESEND_API_KEY?: string };

export function providerFromEnv(env: ProviderConfig, fetcher?: typeof fetch): EmailProvider {
  if (env.EMAIL_PROVIDER === "resend") {
    if (!env.RESEND_API_KEY) throw new Error("EMAIL_PROVIDER is resend but RESEND_API_KEY is not set");
    return resendProvider(env.RESEND_API_KEY, fetcher);
  }
  return logProvider;
}

export type { EmailProvider } from "./types";
export { ProviderError } from "./types";
