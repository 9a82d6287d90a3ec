import type { StoredEvent } from "../db/schema";

/**
 * The event archive in R2: events past EVENT_RETENTION_DAYS, as NDJSON (one stored row per line),
 * at `archive/events/<UTC day of occurrence>/<first event id>.ndjson`. A day is usually one object;
 * events that arrive later for an archived day, or more than one run's slice, add parts. Keys sort
 * by day, so a time window is a key range. The same event may sit in two parts (a run that died
 * between the R2 write and the D1 delete writes it again); readers deduplicate by id.
 */
export const ARCHIVE_PREFIX = "archive/events/";
const DAY_MS = 86_400_000;

export const utcDay = (at: Date) => at.toISOString().slice(0, 10);
export const archivePartKey = (day: string, firstEventId: string) => `${ARCHIVE_PREFIX}${day}/${firstEventId}.ndjson`;

/** Events that occurred before this instant are archived: the start of the UTC day `days` ago. */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - days * DAY_MS);
}

export function toNdjson(rows: StoredEvent[]): string {
  return `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`;
}

const DATE_FIELDS = ["occurredAt", "receivedAt", "processedAt", "lastReplayedAt"] as const;

function fromLine(line: string): StoredEvent {
  const row = JSON.parse(line) as Record<string, unknown>;
  for (const field of DATE_FIELDS) row[field] = row[field] == null ? null : new Date(row[field] as string);
  return row as StoredEvent;
}

export type ArchiveFilter = {
  event?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  /** Users whose lines are left out (erased people the scrub hasn't reached yet). */
  skipUserIds?: Set<string>;
};

const matches = (e: StoredEvent, f: ArchiveFilter) =>
  !f.skipUserIds?.has(e.userId) &&
  (!f.event || e.event === f.event) &&
  (!f.userId || e.userId === f.userId) &&
  (!f.from || e.occurredAt >= f.from) &&
  (!f.to || e.occurredAt <= f.to);

const byOccurrence = (a: StoredEvent, b: StoredEvent) =>
  a.occurredAt.getTime() - b.occurredAt.getTime() || a.id.localeCompare(b.id);

export type ArchiveRead = {
  events: StoredEvent[];
  objectsRead: number;
  /** The day the scan stopped at because its object budget ran out (narrow `from`/`to`); null if it didn't. */
  stoppedAtDay: string | null;
};

/**
 * Archived events matching the filter, oldest occurrence first, at most `limit`: whole days are
 * read in key order from `from`'s day until `limit` events are found, the window ends, or
 * `maxObjects` objects have been read.
 */
export async function readArchivedEvents(
  bucket: R2Bucket,
  filter: ArchiveFilter,
  { limit, maxObjects = 100 }: { limit: number; maxObjects?: number },
): Promise<ArchiveRead> {
  const lastDay = filter.to ? utcDay(filter.to) : null;
  const found = new Map<string, StoredEvent>();
  let objectsRead = 0;
  let day: string | null = null;
  let dayEvents: StoredEvent[] = [];
  const closeDay = () => {
    for (const e of dayEvents.sort(byOccurrence)) if (!found.has(e.id)) found.set(e.id, e);
    dayEvents = [];
  };
  for await (const key of listKeys(bucket, filter.from ? `${ARCHIVE_PREFIX}${utcDay(filter.from)}` : undefined)) {
    const keyDay = key.slice(ARCHIVE_PREFIX.length, ARCHIVE_PREFIX.length + 10);
    if (lastDay && keyDay > lastDay) break;
    if (keyDay !== day) {
      closeDay();
      if (found.size >= limit) break;
      day = keyDay;
    }
    if (objectsRead >= maxObjects)
      return { events: [...found.values()].slice(0, limit), objectsRead, stoppedAtDay: day };
    const text = await (await bucket.get(key))?.text();
    objectsRead += 1;
    for (const line of text?.split("\n") ?? []) {
      if (!line) continue;
      const event = fromLine(line);
      if (matches(event, filter)) dayEvents.push(event);
    }
  }
  closeDay();
  return { events: [...found.values()].slice(0, limit), objectsRead, stoppedAtDay: null };
}

async function* listKeys(bucket: R2Bucket, startAfter: string | undefined): AsyncGenerator<string> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: ARCHIVE_PREFIX, startAfter, cursor });
    for (const object of page.objects) yield object.key;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}
