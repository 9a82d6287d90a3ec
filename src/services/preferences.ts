import { eq } from "drizzle-orm";
import { type Database, runBatch } from "../db/client";
import { contacts } from "../db/schema";
import { AppError } from "../lib/errors";
import { getContact } from "./contacts";
import { suppressionOf, suppressStatement, unsuppressStatement } from "./suppressions";

export type Preferences = {
  unsubscribed: boolean;
  unsubscribedAt: Date | null;
  suppressed: boolean;
  suppressionReason: string | null;
};

export async function getPreferences(db: Database, idOrExternalId: string): Promise<Preferences> {
  const contact = await getContact(db, idOrExternalId);
  const suppression = await suppressionOf(db, contact.email);
  return {
    unsubscribed: contact.unsubscribedAt !== null,
    unsubscribedAt: contact.unsubscribedAt,
    suppressed: suppression !== null,
    suppressionReason: suppression?.reason ?? null,
  };
}

/** Suppression belongs to the address (bounces are about addresses), unsubscribing to the contact. */
export async function updatePreferences(
  db: Database,
  idOrExternalId: string,
  change: { unsubscribed?: boolean; suppressed?: boolean },
): Promise<Preferences> {
  const contact = await getContact(db, idOrExternalId);
  const statements = [];
  if (change.unsubscribed !== undefined) {
    const unsubscribedAt = change.unsubscribed ? (contact.unsubscribedAt ?? new Date()) : null;
    statements.push(
      db.update(contacts).set({ unsubscribedAt, updatedAt: new Date() }).where(eq(contacts.id, contact.id)),
    );
  }
  if (change.suppressed !== undefined) {
    if (!contact.email) throw new AppError("UNPROCESSABLE", "suppressed: the contact has no email address to suppress");
    statements.push(
      change.suppressed ? suppressStatement(db, contact.email, "admin") : unsuppressStatement(db, contact.email),
    );
  }
  await runBatch(db, statements);
  return getPreferences(db, contact.id);
}

/** One-click unsubscribe from an email link; idempotent. Returns false for an unknown contact. */
export async function unsubscribeContact(db: Database, contactId: string): Promise<boolean> {
  const now = new Date();
  const [row] = await db
    .update(contacts)
    .set({ unsubscribedAt: now, updatedAt: now })
    .where(eq(contacts.id, contactId))
    .returning({ id: contacts.id });
  return Boolean(row);
}
