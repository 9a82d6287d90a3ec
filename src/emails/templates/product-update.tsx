import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const productUpdate = defineTemplate({
  key: "product-update",
  topic: "product-updates",
  props: z.object({ headline: z.string().min(1).max(200), body: z.string().min(1).max(5000) }),
  subject: ({ headline }) => headline,
  html: ({ headline, body }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <h1>{headline}</h1>
      <p>{body}</p>
    </Layout>
  ),
  text: ({ headline, body }, { unsubscribeUrl }) => `${headline}\n\n${body}${textFooter(unsubscribeUrl)}`,
});
