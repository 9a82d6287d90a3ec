import { defineJourney } from "../define";

export const weeklyDigest = defineJourney({
  key: "weekly-digest",
  name: "Weekly digest",
  description: "Each week's `digest:ready` event sends the digest to those who asked for it (an opt-in topic).",
  enabled: true,
  trigger: { event: "digest:ready" },
  entryLimit: "unlimited",
  exitOn: [{ event: "user:deleted" }],
  async run(user, ctx) {
    // Most people never opt in: branching here spares a skipped email row per person per week.
    if (!(await ctx.isSubscribed("weekly-digest"))) return;
    const events = user.properties.eventsThisWeek;
    await ctx.sendEmail({
      template: "weekly-digest",
      props: { eventsThisWeek: typeof events === "number" && events >= 0 ? Math.floor(events) : 0 },
    });
  },
});
