import type { Child } from "hono/jsx";
import type { z } from "zod";
import type { TopicKey } from "./topics";

/** `unsubscribeUrl`: the preference centre; null in transactional emails that name no topic. */
export type TemplateContext = { unsubscribeUrl: string | null };

type Topicality =
  /** Every template names its topic; opt-outs of it and unsubscribes block it. */
  | { topic: TopicKey; transactional?: false }
  /** Receipts, password resets: sent despite opt-outs (never despite suppressions); a topic is optional. */
  | { topic?: TopicKey; transactional: true };

export type EmailTemplate<P extends Record<string, unknown> = Record<string, unknown>, K extends string = string> = {
  key: K;
  /** The data the email is rendered with: checked when POST /v1/emails accepts it, and at send time. */
  props: z.ZodType<P>;
  subject: (props: P) => string;
  html: (props: P, ctx: TemplateContext) => Child;
  text: (props: P, ctx: TemplateContext) => string;
  /** Open pixel and click rewriting (docs/engagement-tracking.md): both on unless set to false. */
  tracking?: { opens?: boolean; clicks?: boolean };
} & Topicality;

export function defineTemplate<const K extends string, P extends Record<string, unknown>>(
  template: EmailTemplate<P, K>,
): EmailTemplate<P, K> {
  const { key, topic, transactional } = template as { key: string; topic?: string; transactional?: boolean };
  if (!transactional && !topic) throw new Error(`template "${key}": name its topic`);
  return template;
}

export type RenderedEmail = { subject: string; html: string; text: string };
