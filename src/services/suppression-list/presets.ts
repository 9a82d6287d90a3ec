import type { SuppressionPreset, SuppressionReason } from "../../db/schema";

/** Where a suppression file's column goes: the address, its reason, its date, its source, or nowhere. */
export const SUPPRESSION_TARGETS = ["address", "reason", "date", "source"] as const;
export type SuppressionTarget = (typeof SUPPRESSION_TARGETS)[number];

export type SuppressionPresetSpec = {
  mapping: Record<string, SuppressionTarget | null>;
  /**
   * The export has no column saying why (SendGrid and Mailgun export one file per list): the
   * import then needs `reason`, so a spam-report list can't arrive as a liftable manual block.
   */
  needsReason: boolean;
};

/**
 * Column names of other senders' suppression exports (docs/contacts-import-export.md, "Suppression lists"): matched
 * case-insensitively; other columns are ignored. Their reason values are read by `readReason`.
 */
export const SUPPRESSION_PRESET_SPECS: Record<SuppressionPreset, SuppressionPresetSpec> = {
  // Dashboard export and GET /suppressions: id, email, origin (bounce | complaint | manual), source_id, created_at.
  resend: { mapping: { email: "address", origin: "reason", created_at: "date" }, needsReason: false },
  // Suppression dump: EmailAddress, SuppressionReason (HardBounce | SpamComplaint | ManualSuppression), Origin, CreatedAt.
  postmark: {
    mapping: { EmailAddress: "address", SuppressionReason: "reason", CreatedAt: "date", Origin: null },
    needsReason: false,
  },
  // One export per list (bounces, blocks, spam reports, invalid emails, unsubscribes): email, created, and for
  // bounces and blocks the SMTP `reason` text and `status` code, which say nothing about the list.
  sendgrid: { mapping: { email: "address", created: "date", reason: null, status: null }, needsReason: true },
  // One export per list: bounces (address, code, error, created_at), complaints (address, created_at),
  // unsubscribes (address, tags, created_at); dates in RFC 2822.
  mailgun: {
    mapping: { address: "address", created_at: "date", code: null, error: null, tags: null },
    needsReason: true,
  },
  // list-suppressed-destinations (EmailAddress, Reason: BOUNCE | COMPLAINT, LastUpdateTime) and the
  // suppression-list import CSV (emailAddress, reason).
  ses: { mapping: { EmailAddress: "address", Reason: "reason", LastUpdateTime: "date" }, needsReason: false },
};

/** Column names every suppression import understands without a mapping (our own export's among them). */
export const DEFAULT_COLUMNS: Record<string, SuppressionTarget> = {
  address: "address",
  email: "address",
  reason: "reason",
  date: "date",
  createdat: "date",
  created_at: "date",
  source: "source",
};

/** Other senders' reason words, compared lowercased with spaces, `-` and `_` removed. */
const REASON_WORDS: Record<string, SuppressionReason> = {
  hardbounce: "hard_bounce",
  bounce: "hard_bounce",
  bounced: "hard_bounce",
  bounces: "hard_bounce",
  invalid: "hard_bounce",
  invalidemail: "hard_bounce",
  invalidemails: "hard_bounce",
  complaint: "complaint",
  complaints: "complaint",
  complained: "complaint",
  spamcomplaint: "complaint",
  spam: "complaint",
  spamreport: "complaint",
  spamreports: "complaint",
  abuse: "complaint",
  unsubscribe: "unsubscribed",
  unsubscribed: "unsubscribed",
  unsubscribes: "unsubscribed",
  globalunsubscribe: "unsubscribed",
  manual: "manual",
  manualsuppression: "manual",
  block: "manual",
  blocked: "manual",
  blocks: "manual",
  admin: "manual",
};

/** A reason cell as one of ours, or undefined when it is none we know. */
export function readReason(value: string): SuppressionReason | undefined {
  return REASON_WORDS[value.toLowerCase().replace(/[\s_-]+/g, "")];
}
