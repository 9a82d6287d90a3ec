import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { Email } from "../db/schema";
import { normalizedAddress } from "./suppressions";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The statuses that hold one of an address's sends for the day (queued ones only once claimed: sent_at set). */
export const SENDING_STATUSES = ["queued", "sent", "delivered", "bounced", "complained"] as const;

/**
 * Reserves one of the address's sends for the last 24 h, atomically (D1 runs one statement at a
 * time): sets to_address and sent_at on the still-queued row only while fewer than `max` other
 * emails of the same class (transactional or not: a flood of marketing never blocks a password
 * reset) went to the address or are being handed over (queued with sent_at).
 */
export async function claimSendSlot(db: Database, email: Email, to: string, max: number, now: Date) {
  const since = now.getTime() - DAY_MS;
  const statuses = sql.join(
    SENDING_STATUSES.map((s) => sql`${s}`),
    sql`, `,
  );
  const claimed = await db.all<{ id: string }>(sql`UPDATE emails SET to_address = ${to}, sent_at = ${now.getTime()}
    WHERE id = ${email.id} AND status = 'queued'
      AND (SELECT count(*) FROM emails o WHERE lower(o.to_address) = ${normalizedAddress(to)} AND o.sent_at > ${since}
        AND o.id <> ${email.id} AND o.transactional = ${email.transactional ? 1 : 0}
        AND o.status IN (${statuses})) < ${max}
    RETURNING id`);
  return claimed.length > 0;
}
