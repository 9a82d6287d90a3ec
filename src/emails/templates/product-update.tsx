import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const productUpdate = defineTemplate({
  key: "product-update",
  topic: "product-updates",
  props: z.object({
    headline: z.string().min(1).max(200),
    body: z.string().min(1).max(5000),
    /** A "Read more" link (tracked like every link). */
    url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
  }),
  subject: ({ headline }) => headline,
  html: ({ headline, body, url }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <h1>{headline}</h1>
      <p>{body}</p>
      {url ? (
        <p>
          <a href={url}>Read more</a>
        </p>
      ) : null}
    </Layout>
  ),
  text: ({ headline, body, url }, { unsubscribeUrl }) =>
    `${headline}\n\n${body}${url ? `\n\nRead more: ${url}` : ""}${textFooter(unsubscribeUrl)}`,
});
