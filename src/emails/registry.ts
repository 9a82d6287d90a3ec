import { z } from "zod";
import { AppError } from "../lib/errors";
import type { EmailTemplate, RenderedEmail, TemplateContext } from "./template";
import { activationTips } from "./templates/activation-tips";
import { cartReminder } from "./templates/cart-reminder";
import { passwordReset } from "./templates/password-reset";
import { productUpdate } from "./templates/product-update";
import { weeklyDigest } from "./templates/weekly-digest";
import { welcome } from "./templates/welcome";

const all = [welcome, activationTips, cartReminder, passwordReset, productUpdate, weeklyDigest] as const;

export type TemplateKey = (typeof all)[number]["key"];

export const templates: ReadonlyMap<string, EmailTemplate> = new Map(
  all.map((t) => [t.key, t as unknown as EmailTemplate]),
);

export function getTemplate(key: string): EmailTemplate {
  const template = templates.get(key);
  if (!template) throw new AppError("UNPROCESSABLE", `Unknown email template "${key}"`);
  return template;
}

/** The template's data, parsed (defaults filled in), or a 400 naming the first field that is wrong. */
export function parseTemplateData(template: EmailTemplate, data: Record<string, unknown>): Record<string, unknown> {
  const parsed = template.props.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = ["data", ...issue.path.map(String)].join(".");
  throw new AppError("VALIDATION_ERROR", `${field}: ${issue.message}`);
}

/** Every template with its topic and its data schema as JSON Schema (the admin listing). */
export const templateListing = () =>
  [...templates.values()].map((t) => ({
    key: t.key,
    topic: t.topic ?? null,
    transactional: t.transactional === true,
    dataSchema: z.toJSONSchema(t.props, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
  }));

/** Validates props against the template's schema and renders subject, HTML and text. */
export async function renderTemplate(
  key: string,
  props: Record<string, unknown>,
  ctx: TemplateContext,
): Promise<RenderedEmail> {
  const template = getTemplate(key);
  const parsed = template.props.safeParse(props);
  if (!parsed.success)
    throw new AppError("UNPROCESSABLE", `Invalid props for template "${key}": ${parsed.error.issues[0]?.message}`);
  const html = await template.html(parsed.data, ctx)?.toString();
  return {
    subject: template.subject(parsed.data),
    html: `<!doctype html>${html ?? ""}`,
    text: template.text(parsed.data, ctx),
  };
}

/** The reason an email of a topic the contact opted out of is skipped with. */
export const TOPIC_UNSUBSCRIBED = "topic_unsubscribed";

/** The rules an email is sent under: its topic (the row's, else its template's) and whether it is transactional. */
export function sendRules(email: { templateKey: string | null; topicKey: string | null; transactional: boolean }) {
  const template = email.templateKey ? templates.get(email.templateKey) : undefined;
  return {
    topicKey: email.topicKey ?? template?.topic ?? null,
    transactional: email.transactional || template?.transactional === true,
  };
}
