import { defineJourney } from "../define";

export const cartRecovery = defineJourney({
  key: "cart-recovery",
  name: "Abandoned cart recovery",
  description: "An hour after a non-empty cart is abandoned, remind the user unless they ordered. At most once a week.",
  enabled: true,
  trigger: { event: "cart:abandoned", where: [{ property: "cartValue", op: "gt", value: 0 }] },
  entryLimit: "once_per_period",
  entryPeriod: "7 days",
  exitOn: [{ event: "order:completed" }, { event: "user:deleted" }],
  async run(user, ctx) {
    await ctx.sleep("1 hour");
    if (await ctx.hasDoneEvent("order:completed")) return;
    const cartValue = typeof user.properties.cartValue === "number" ? user.properties.cartValue : 0;
    await ctx.sendEmail({ template: "cart-reminder", props: { cartValue } });
  },
});
