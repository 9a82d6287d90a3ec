import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const cartReminder = defineTemplate({
  key: "cart-reminder",
  topic: "reminders",
  props: z.object({ cartValue: z.number().nonnegative(), currency: z.string().default("USD") }),
  subject: () => "You left something in your cart",
  html: ({ cartValue, currency }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <p>
        Your cart ({cartValue.toFixed(2)} {currency}) is still waiting for you.
      </p>
    </Layout>
  ),
  text: ({ cartValue, currency }, { unsubscribeUrl }) =>
    `Your cart (${cartValue.toFixed(2)} ${currency}) is still waiting for you.${textFooter(unsubscribeUrl)}`,
});
