import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildDeps } from "../src/composition";
import { signUnsubscribeToken } from "../src/lib/tokens";
import { type DeliveryDeps, deliverEmail } from "../src/services/emails";
import { adminGet, call, ingestAuth, unique } from "./helpers";

type Accepted = { emailId: string; status: string; reason?: string };
type TopicState = { key: string; subscribed: boolean; choice: boolean | null };

async function contact(prefix: string) {
  const userId = unique(prefix);
  await call("/v1/ingest", {
    method: "POST",
    headers: ingestAuth(),
    json: { event: "profile", userId, userEmail: `${userId}@example.com` },
  });
  const { id } = (await (await adminGet(`/v1/admin/contacts/${userId}`)).json()) as { id: string };
  return { userId, id };
}

const preferences = async (userId: string) =>
  (await (await adminGet(`/v1/admin/contacts/${userId}/preferences`)).json()) as {
    unsubscribed: boolean;
    topics: TopicState[];
  };
const topic = async (userId: string, key: string) => (await preferences(userId)).topics.find((t) => t.key === key)!;

const news = { headline: "New: topics", body: "Choose what you get." };
async function sendEmail(json: unknown): Promise<Accepted> {
  const res = await call("/v1/emails", { method: "POST", headers: ingestAuth(), json });
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

/** Accepted but held (sendAt an hour ahead, so the queue leaves it alone), then made due for `deliveredLink`. */
async function heldEmail(json: Record<string, unknown>): Promise<Accepted> {
  const accepted = await sendEmail({ ...json, sendAt: new Date(Date.now() + 3600_000).toISOString() });
  await env.DB.prepare("UPDATE emails SET send_at = NULL WHERE id = ?").bind(accepted.emailId).run();
  return accepted;
}

const form = (token: string, body: string) =>
  call(`/v1/email/unsubscribe?token=${token}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });

/** Delivers the email (the log provider keeps the rendered text) and returns the link and headers it was sent with. */
async function deliveredLink(emailId: string) {
  const captured: Array<Record<string, string>> = [];
  const base = buildDeps(env).delivery;
  const deps: DeliveryDeps = {
    ...base,
    provider: {
      name: "capture",
      send: async (message) => {
        captured.push(message.headers ?? {});
        return { messageId: `m_${emailId}`, keepsRenderedCopy: true };
      },
    },
  };
  const email = await deliverEmail(deps, emailId);
  const link = email.text?.match(/Unsubscribe: (\S+)/)?.[1] ?? null;
  return { email, link, headers: captured[0] ?? {} };
}

describe("the preference centre at the unsubscribe link", () => {
  it("lists every topic with its state, with labels, and a way to leave everything", async () => {
    const { id } = await contact("pc_show");
    const res = await call(`/v1/email/unsubscribe?token=${await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, id)}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(
      /<input type="checkbox" id="topic-product-updates" name="topic" value="product-updates"[^>]* checked/,
    );
    expect(html).not.toMatch(/id="topic-weekly-digest"[^>]* checked/);
    expect(html).toContain('<label for="topic-weekly-digest">Weekly digest</label>');
    expect(html).toContain("<legend>Topics</legend>");
    expect(html).toContain('value="unsubscribe_all"');
    expect(html).not.toContain("<script");
  });

  it("saves the ticked topics (unticked ones off) and shows them saved", async () => {
    const { userId, id } = await contact("pc_save");
    const token = await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, id);
    const res = await form(token, "form=preferences&action=save&topic=onboarding&topic=weekly-digest");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Your preferences are saved.");
    expect(html).toMatch(/id="topic-weekly-digest"[^>]* checked/);
    const prefs = await preferences(userId);
    expect(prefs.unsubscribed).toBe(false);
    expect(Object.fromEntries(prefs.topics.map((t) => [t.key, t.subscribed]))).toEqual({
      onboarding: true,
      reminders: false,
      "product-updates": false,
      "weekly-digest": true,
    });
  });

  it("leaves everything from the form", async () => {
    const { userId, id } = await contact("pc_all");
    const res = await form(
      await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, id),
      "form=preferences&action=unsubscribe_all",
    );
    expect(res.status).toBe(200);
    expect((await preferences(userId)).unsubscribed).toBe(true);
  });

  it("a sent email's List-Unsubscribe one-click leaves only its topic: that topic is skipped, another is sent", async () => {
    const { userId } = await contact("pc_oneclick");
    const first = await heldEmail({ template: "product-update", userId, data: news });
    const { link, headers } = await deliveredLink(first.emailId);
    expect(headers["List-Unsubscribe"]).toBe(`<${link}>`);
    expect(headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const token = new URL(link!).searchParams.get("token")!;

    const res = await form(token, "List-Unsubscribe=One-Click");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Product updates");
    expect(await topic(userId, "product-updates")).toMatchObject({ subscribed: false, choice: false });
    expect((await preferences(userId)).unsubscribed).toBe(false);

    const skipped = await sendEmail({ template: "product-update", userId, data: news });
    expect(skipped).toMatchObject({ status: "skipped", reason: "topic_unsubscribed" });
    expect((await sendEmail({ template: "welcome", userId })).status).toBe("queued");

    // Bulk resend leaves it alone: a copy would only be skipped again.
    const resend = await call("/v1/admin/emails/resend", {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_API_KEY}` },
      json: { filter: { status: "skipped", templateKey: "product-update" }, dryRun: true },
    });
    const { results } = (await resend.json()) as { results: Array<{ emailId: string; outcome: string }> };
    expect(results.find((r) => r.emailId === skipped.emailId)?.outcome).toBe("unsubscribed");
  });

  it("a queued email of a topic left since is skipped at send time", async () => {
    const { userId, id } = await contact("pc_late");
    const queued = await heldEmail({ template: "product-update", userId, data: news });
    await form(await signUnsubscribeToken(env.TOKEN_SIGNING_SECRET, id, Date.now(), "product-updates"), "");
    const { email } = await deliveredLink(queued.emailId);
    expect(email).toMatchObject({ status: "skipped", error: "topic_unsubscribed" });
  });

  it("a transactional email without a topic has no List-Unsubscribe and no preference link", async () => {
    const { userId } = await contact("pc_tx");
    const sent = await heldEmail({ template: "password-reset", userId, data: { resetUrl: "https://x.example/r" } });
    const { email, link, headers } = await deliveredLink(sent.emailId);
    expect(email.status).toBe("sent");
    expect(link).toBeNull();
    expect(headers["List-Unsubscribe"]).toBeUndefined();
  });
});
