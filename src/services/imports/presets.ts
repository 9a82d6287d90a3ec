import type { ColumnType, ImportPreset, MappingTarget } from "../../db/schema";

export type Preset = {
  mapping: Record<string, MappingTarget>;
  types: Record<string, ColumnType>;
  /** The `suppressions.reason` for addresses this preset suppresses. */
  suppressReason: string;
};

/**
 * Column mappings for other tools' default exports (docs/contacts-import-export.md lists them).
 * A column mapped to both `email` and `externalId` keys the contact by its lowercased address:
 * Mailchimp has no user id, and HubSpot's Record ID is not an id the product's events carry.
 * Columns not listed stay properties under their own header.
 */
export const PRESETS: Record<ImportPreset, Preset> = {
  mailchimp: {
    mapping: {
      "Email Address": ["email", "externalId"],
      "First Name": "firstName",
      "Last Name": "lastName",
      "Phone Number": "phone",
      MEMBER_RATING: "memberRating",
      OPTIN_TIME: "optinTime",
      CONFIRM_TIME: "confirmTime",
      LAST_CHANGED: "lastChanged",
      LATITUDE: "latitude",
      LONGITUDE: "longitude",
      TAGS: "tags",
      // Only the unsubscribed and the cleaned file have these: each file is recognised by its columns.
      UNSUB_TIME: "unsubscribed",
      CLEAN_TIME: "suppressed",
    },
    types: {
      MEMBER_RATING: "number",
      OPTIN_TIME: "date",
      CONFIRM_TIME: "date",
      LAST_CHANGED: "date",
      LATITUDE: "number",
      LONGITUDE: "number",
      TAGS: "list",
    },
    suppressReason: "import:mailchimp-cleaned",
  },
  hubspot: {
    mapping: {
      Email: ["email", "externalId"],
      "Record ID": "hubspotId",
      "First Name": "firstName",
      "Last Name": "lastName",
      "Phone Number": "phone",
      "Create Date": "createdAt",
      "Last Activity Date": "lastActivityAt",
      "Unsubscribed from all email": "unsubscribed",
    },
    types: { "Create Date": "date", "Last Activity Date": "date" },
    suppressReason: "import:hubspot",
  },
  customerio: {
    mapping: {
      id: "externalId",
      email: "email",
      cio_id: "cioId",
      created_at: "createdAt",
      unsubscribed: "unsubscribed",
    },
    types: { created_at: "date" },
    suppressReason: "import:customerio",
  },
};
