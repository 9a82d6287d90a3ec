import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const passwordReset = defineTemplate({
  key: "password-reset",
  transactional: true,
  // The reset URL holds a secret: it must not be copied into a tracking token and a click event.
  tracking: { clicks: false },
  props: z.object({
    resetUrl: z.url({ protocol: /^https?$/ }).max(2048),
    expiresInMinutes: z.number().int().positive().default(30),
  }),
  subject: () => "Reset your password",
  html: ({ resetUrl, expiresInMinutes }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <p>Someone asked to reset your password. If it was you, choose a new one:</p>
      <p>
        <a href={resetUrl}>Reset my password</a>
      </p>
      <p>The link works for {expiresInMinutes} minutes. If you didn't ask, ignore this email.</p>
    </Layout>
  ),
  text: ({ resetUrl, expiresInMinutes }, { unsubscribeUrl }) =>
    `Someone asked to reset your password. If it was you, choose a new one:\n${resetUrl}\n\nThe link works for ${expiresInMinutes} minutes. If you didn't ask, ignore this email.${textFooter(unsubscribeUrl)}`,
});
