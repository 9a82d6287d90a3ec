/**
 * Workflow event types allow fewer characters than product event names ("user:activated"), so a
 * name is mapped to a safe type. Collisions don't matter: events are only sent to an enrollment
 * whose D1 row waits for that exact name.
 */
export function workflowEventType(eventName: string): string {
  return `ev-${eventName.replace(/[^a-zA-Z0-9_-]/g, "_")}`.slice(0, 100);
}
