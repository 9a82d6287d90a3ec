/**
 * The closed sets of values the tables store and the API names (statuses, formats, presets): what
 * the entry layer may take from the database layer. Tables and queries stay in services/ and below
 * (the layer rule in .dependency-cruiser.cjs).
 */

export type {
  ApiKeyScope,
  AuditOutcome,
  ImportFormat,
  ImportOptions,
  SuppressionPreset,
  SuppressionReason,
  WebhookEventType,
} from "./schema";
export {
  ALIAS_KINDS,
  API_KEY_SCOPES,
  ARCHIVE_ERASURE_STATES,
  AUDIT_OUTCOMES,
  BACKFILL_STATUSES,
  COLUMN_TYPES,
  CONTACT_CHANGE_SOURCES,
  EMAIL_STATUSES,
  ENROLLMENT_STATUSES,
  IMPORT_FORMATS,
  IMPORT_PRESETS,
  IMPORT_STATUSES,
  IMPORT_UPLOAD_STATUSES,
  SUPPRESSION_PRESETS,
  SUPPRESSION_REASONS,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_EVENT_TYPES,
} from "./schema";
