import type { Child } from "hono/jsx";
import type { z } from "zod";

export type TemplateContext = { unsubscribeUrl: string };

export type EmailTemplate<P extends Record<string, unknown> = Record<string, unknown>, K extends string = string> = {
  key: K;
  /** Validates the props an email is rendered with, at send time and in the journey trace test. */
  props: z.ZodType<P>;
  subject: (props: P) => string;
  html: (props: P, ctx: TemplateContext) => Child;
  text: (props: P, ctx: TemplateContext) => string;
};

export function defineTemplate<const K extends string, P extends Record<string, unknown>>(
  template: EmailTemplate<P, K>,
): EmailTemplate<P, K> {
  return template;
}

export type RenderedEmail = { subject: string; html: string; text: string };
