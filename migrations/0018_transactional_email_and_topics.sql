CREATE TABLE `topic_preferences` (
	`contact_id` text NOT NULL,
	`topic_key` text NOT NULL,
	`subscribed` integer NOT NULL,
	`source` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`contact_id`, `topic_key`)
);
--> statement-breakpoint
ALTER TABLE `emails` ADD `topic_key` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `transactional` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `emails` ADD `idempotency_key` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `send_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `emails_idempotency_key_unique` ON `emails` (`idempotency_key`);