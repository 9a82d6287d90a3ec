import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

const TIPS = ["Import your contacts", "Connect your product events", "Turn on your first journey"];

export const activationTips = defineTemplate({
  key: "activation-tips",
  topic: "onboarding",
  props: z.object({ name: z.string().optional() }),
  subject: () => "Three tips to get started",
  html: ({ name }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <p>Hi{name ? ` ${name}` : ""}, you haven't activated yet. Three things that help:</p>
      <ol>
        {TIPS.map((tip) => (
          <li>{tip}</li>
        ))}
      </ol>
    </Layout>
  ),
  text: ({ name }, { unsubscribeUrl }) =>
    `Hi${name ? ` ${name}` : ""}, you haven't activated yet. Three things that help:\n${TIPS.map((t, i) => `${i + 1}. ${t}`).join("\n")}${textFooter(unsubscribeUrl)}`,
});
