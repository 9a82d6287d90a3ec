CREATE TABLE `webhook_deliveries` (
	`source` text NOT NULL,
	`message_id` text NOT NULL,
	`claim` text NOT NULL,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`source`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_received_idx` ON `webhook_deliveries` (`received_at`);--> statement-breakpoint
-- PostHog event uuids and API idempotency keys shared one namespace: a uuid equal to an API key
-- made one of them a false duplicate. PostHog keys are now stored as `posthog:<uuid>` (API keys
-- may not start with `posthog:`); earlier PostHog rows move to the new form so a redelivery of an
-- old event is still recognised. A row whose new key is already taken keeps its old one.
UPDATE `events` SET `idempotency_key` = 'posthog:' || `idempotency_key`
WHERE `source` = 'posthog'
  AND `idempotency_key` IS NOT NULL
  AND `idempotency_key` NOT LIKE 'posthog:%'
  AND NOT EXISTS (SELECT 1 FROM `events` AS `taken` WHERE `taken`.`idempotency_key` = 'posthog:' || `events`.`idempotency_key`);
