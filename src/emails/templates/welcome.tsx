import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const welcome = defineTemplate({
  key: "welcome",
  topic: "onboarding",
  props: z.object({ name: z.string().optional() }),
  subject: () => "Welcome aboard",
  html: ({ name }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <h1>Welcome{name ? `, ${name}` : ""}!</h1>
      <p>Thanks for signing up. The fastest way to get value is to finish setting up your first project.</p>
    </Layout>
  ),
  text: ({ name }, { unsubscribeUrl }) =>
    `Welcome${name ? `, ${name}` : ""}!\n\nThanks for signing up. The fastest way to get value is to finish setting up your first project.${textFooter(unsubscribeUrl)}`,
});
