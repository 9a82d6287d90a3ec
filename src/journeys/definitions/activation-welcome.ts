import { defineJourney } from "../define";

export const activationWelcome = defineJourney({
  key: "activation-welcome",
  name: "Activation welcome",
  description: "Welcome new sign-ups; if they haven't activated within 2 days, send activation tips.",
  enabled: true,
  trigger: { event: "user:signed_up" },
  entryLimit: "once",
  exitOn: [{ event: "user:deleted" }],
  async run(user, ctx) {
    const name = typeof user.properties.name === "string" ? user.properties.name : undefined;
    await ctx.sendEmail({ template: "welcome", props: { name } });
    const activated = await ctx.waitForEvent("user:activated", { timeout: "2 days" });
    if (!activated) await ctx.sendEmail({ template: "activation-tips", props: { name } });
  },
});
