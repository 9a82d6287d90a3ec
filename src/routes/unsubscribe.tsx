import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Child } from "hono/jsx";
import type { AppEnv } from "../http/app-env";
import { htmlPageHeaders } from "../http/html-headers";
import { AppError } from "../lib/errors";
import { unsubscribeSecrets, verifyUnsubscribeToken } from "../lib/tokens";
import { unsubscribeContact } from "../services/preferences";
import { errorResponses, notFoundResponse, publicSecurity, rateLimitedResponse } from "./schemas";

const PATH = "/v1/email/unsubscribe";
const query = z.object({ token: z.string().min(1).max(2048) });

const Page = ({ title, children }: { title: string; children: Child }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
    </head>
    <body style="font-family:system-ui,sans-serif;max-width:480px;margin:4rem auto;padding:0 1rem;text-align:center">
      <h1 style="font-size:1.4rem">{title}</h1>
      {children}
    </body>
  </html>
);

export const unsubscribeRoutes = new OpenAPIHono<AppEnv>();

unsubscribeRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: PATH,
  operationId: "showUnsubscribePage",
  tags: ["Unsubscribe"],
  security: publicSecurity,
  summary: "Unsubscribe confirmation page (the link in every email)",
  description: "Shows a button that POSTs back; a GET never unsubscribes, so link scanners can't unsubscribe people.",
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
  summary: "One-click unsubscribe (RFC 8058)",
  description:
    "What mail clients call for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. Unsubscribes the contact and suppresses its address (reason `unsubscribed`), so no contact with that address is emailed again. Idempotent.",
  request: { query },
  responses: {
    ...rateLimitedResponse,
    200: { description: "Unsubscribed (HTML page)" },
    ...notFoundResponse,
    400: errorResponses[400],
  },
});

unsubscribeRoutes.use(PATH, htmlPageHeaders);

unsubscribeRoutes.get(PATH, async (c) => {
  const token = c.req.query("token") ?? "";
  if (!(await verifyUnsubscribeToken(unsubscribeSecrets(c.env), token))) {
    return c.html(
      <Page title="This link is invalid or has expired">
        <p>Use the unsubscribe link in a more recent email.</p>
      </Page>,
      400,
    );
  }
  return c.html(
    <Page title="Unsubscribe from these emails?">
      <form method="post" action={`${PATH}?token=${encodeURIComponent(token)}`}>
        <button type="submit" style="font-size:1rem;padding:.6rem 1.2rem">
          Unsubscribe
        </button>
      </form>
    </Page>,
  );
});

unsubscribeRoutes.post(PATH, async (c) => {
  const contactId = await verifyUnsubscribeToken(unsubscribeSecrets(c.env), c.req.query("token") ?? "");
  if (!contactId) throw new AppError("BAD_REQUEST", "Invalid or expired unsubscribe link");
  if (!(await unsubscribeContact(c.get("db"), contactId))) throw new AppError("NOT_FOUND", "Contact not found");
  return c.html(
    <Page title="You're unsubscribed">
      <p>You won't receive these emails any more.</p>
    </Page>,
  );
});
