import { type EngagementHit, engagementEvent } from "../services/engagement";
import type { Verdict } from "../services/engagement-machine";
import { emitWebhookEvents, type WebhookEmitDeps } from "../services/webhooks/outbox";
import { type EventProcessingDeps, ingestEvents } from "./ingest";

export type EngagementDeps = EventProcessingDeps & {
  waitUntil?: (promise: Promise<unknown>) => void;
  webhooks: WebhookEmitDeps;
};

export type RecordedEngagement = { eventId: string | null; duplicate: boolean; verdict: Verdict } | null;

/**
 * The one way an open or click is recorded: it becomes an event of the email's contact
 * (`email:opened` / `email:clicked`) through the ingest pipeline, so journeys wait for it and exit
 * on it, and replay, retention and erasure treat it as any event. Machine traffic is stored
 * `anonymous` (no contact change, no journey) with `machine: true` and its reason. Repeats are
 * duplicates of the events' unique index. Null when the email no longer exists. A human open or
 * click the index took as new is also an `email.opened` / `email.clicked` webhook event.
 */
export async function recordEngagement(deps: EngagementDeps, hit: EngagementHit): Promise<RecordedEngagement> {
  const event = await engagementEvent(deps.db, hit);
  if (!event) return null;
  const [result] = await ingestEvents(
    deps,
    [
      {
        event: event.event,
        userId: event.userId,
        properties: event.properties,
        idempotencyKey: event.idempotencyKey,
        timestamp: event.occurredAt.toISOString(),
        anonymous: event.verdict.machine,
        // The contact's properties are its own: an open says nothing about them.
        contactUpdate: { set: {}, setOnce: {} },
      },
    ],
    "api",
  );
  if (result!.stored && !event.verdict.machine) {
    const { emailId, journey, template, url } = event.properties;
    await emitWebhookEvents(deps.webhooks, [
      {
        type: event.event === "email:opened" ? "email.opened" : "email.clicked",
        data: {
          emailId: emailId as string,
          // As every email.* event: a contact keyed by its address has no user id to share.
          userId: event.userId.includes("@") ? null : event.userId,
          status: event.event === "email:opened" ? "opened" : "clicked",
          templateKey: template as string,
          journeyKey: (journey as string | null) ?? null,
          ...(typeof url === "string" ? { url } : {}),
        },
      },
    ]);
  }
  return { eventId: result!.stored ? result!.eventId : null, duplicate: !result!.stored, verdict: event.verdict };
}
