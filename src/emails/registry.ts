import { AppError } from "../lib/errors";
import type { EmailTemplate, RenderedEmail, TemplateContext } from "./template";
import { activationTips } from "./templates/activation-tips";
import { cartReminder } from "./templates/cart-reminder";
import { welcome } from "./templates/welcome";

const all = [welcome, activationTips, cartReminder] as const;

export type TemplateKey = (typeof all)[number]["key"];

export const templates: ReadonlyMap<string, EmailTemplate> = new Map(
  all.map((t) => [t.key, t as unknown as EmailTemplate]),
);

export function getTemplate(key: string): EmailTemplate {
  const template = templates.get(key);
  if (!template) throw new AppError("UNPROCESSABLE", `Unknown email template "${key}"`);
  return template;
}

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
