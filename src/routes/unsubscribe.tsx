import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../http/app-env";
import { htmlPageHeaders } from "../http/html-headers";
import { AppError } from "../lib/errors";
import { type UnsubscribeLink, unsubscribeSecrets, verifyUnsubscribeLink } from "../lib/tokens";
import { loadPreferenceCentre, oneClickUnsubscribe, savePreferenceCentre } from "../services/preference-centre";
import { unsubscribeContact } from "../services/preferences";
import { brandName, Page, PreferenceForm } from "./preference-page";
import { errorResponses, notFoundResponse, publicSecurity, rateLimitedResponse } from "./schemas";

const PATH = "/v1/email/unsubscribe";
const query = z.object({ token: z.string().min(1).max(2048) });

export const unsubscribeRoutes = new OpenAPIHono<AppEnv>();

unsubscribeRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: PATH,
  operationId: "showUnsubscribePage",
  tags: ["Unsubscribe"],
  security: publicSecurity,
  summary: "The preference centre (the link in every email)",
  description:
    "Lists the topics with the person's state, to change each one or leave everything, without logging in: the signed token (90 days; links signed with the previous secret still work while rotating) says who. A GET never changes anything, so link scanners can't unsubscribe people.",
  request: { query },
  responses: {
    ...rateLimitedResponse,
    200: { description: "HTML page" },
    400: { description: "HTML page: invalid or expired link" },
  },
});
unsubscribeRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: PATH,
  operationId: "unsubscribeOneClick",
  tags: ["Unsubscribe"],
  security: publicSecurity,
  summary: "One-click unsubscribe (RFC 8058), or the preference centre's form",
  description:
    "What mail clients call for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`: unsubscribes from the email's topic (the link names it), or from everything for a link without one (the contact is unsubscribed and its address suppressed with reason `unsubscribed`). The preference centre's form (`form=preferences`) sets every topic to its box, or (`action=unsubscribe_all`) leaves everything. Idempotent.",
  request: { query },
  responses: {
    ...rateLimitedResponse,
    200: { description: "Done (HTML page)" },
    ...notFoundResponse,
    400: errorResponses[400],
  },
});

unsubscribeRoutes.use(PATH, htmlPageHeaders);

const linkOf = (c: Context<AppEnv>) => verifyUnsubscribeLink(unsubscribeSecrets(c.env), c.req.query("token") ?? "");
const actionOf = (c: Context<AppEnv>) => `${PATH}?token=${encodeURIComponent(c.req.query("token") ?? "")}`;

unsubscribeRoutes.get(PATH, async (c) => {
  const brand = brandName(c.env.EMAIL_FROM);
  const link = await linkOf(c);
  if (!link) {
    return c.html(
      <Page brand={brand} title="This link is invalid or has expired">
        <p class="lead">Use the link in a more recent email.</p>
      </Page>,
      400,
    );
  }
  const centre = await loadPreferenceCentre(c.get("db"), link.contactId);
  if (!centre) {
    // The contact is gone (erased): nothing is sent under it any more.
    return c.html(
      <Page brand={brand} title="Email preferences">
        <p class="lead">You're not on our list any more: you won't receive our emails.</p>
      </Page>,
    );
  }
  return c.html(
    <Page brand={brand} title="Email preferences">
      <PreferenceForm action={actionOf(c)} centre={centre} />
    </Page>,
  );
});

unsubscribeRoutes.post(PATH, async (c) => {
  const link = await linkOf(c);
  if (!link) throw new AppError("BAD_REQUEST", "Invalid or expired unsubscribe link");
  const form = await c.req.parseBody({ all: true });
  if (form.form === "preferences") return preferenceForm(c, link, form);
  const done = await oneClickUnsubscribe(c.get("db"), link.contactId, link.topic);
  if (!done) throw new AppError("NOT_FOUND", "Contact not found");
  return c.html(
    <Page brand={brandName(c.env.EMAIL_FROM)} title="You're unsubscribed">
      <p class="lead">
        {done.topic
          ? `You won't receive "${done.topic.name}" emails any more.`
          : "You won't receive these emails any more."}
      </p>
      {done.topic ? (
        <p>
          <a href={actionOf(c)}>Manage your other email preferences</a>
        </p>
      ) : null}
    </Page>,
  );
});

async function preferenceForm(c: Context<AppEnv>, link: UnsubscribeLink, form: Record<string, unknown>) {
  const db = c.get("db");
  const brand = brandName(c.env.EMAIL_FROM);
  if (form.action === "unsubscribe_all") {
    if (!(await unsubscribeContact(db, link.contactId))) throw new AppError("NOT_FOUND", "Contact not found");
    return c.html(
      <Page brand={brand} title="You're unsubscribed">
        <p class="lead">You won't receive our emails any more, except messages about your account.</p>
      </Page>,
    );
  }
  const ticked = [form.topic ?? []].flat().filter((v): v is string => typeof v === "string");
  const centre = await savePreferenceCentre(db, link.contactId, ticked);
  if (!centre) throw new AppError("NOT_FOUND", "Contact not found");
  return c.html(
    <Page brand={brand} title="Email preferences">
      <PreferenceForm action={actionOf(c)} centre={centre} saved="Your preferences are saved." />
    </Page>,
  );
}
