import { z } from "zod";
import { defineTemplate } from "../template";
import { Layout, textFooter } from "./layout";

export const weeklyDigest = defineTemplate({
  key: "weekly-digest",
  topic: "weekly-digest",
  props: z.object({ eventsThisWeek: z.number().int().nonnegative() }),
  subject: () => "Your week",
  html: ({ eventsThisWeek }, { unsubscribeUrl }) => (
    <Layout unsubscribeUrl={unsubscribeUrl}>
      <p>Your projects recorded {eventsThisWeek} events this week.</p>
    </Layout>
  ),
  text: ({ eventsThisWeek }, { unsubscribeUrl }) =>
    `Your projects recorded ${eventsThisWeek} events this week.${textFooter(unsubscribeUrl)}`,
});
