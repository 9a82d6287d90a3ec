CREATE TABLE `contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`external_id` text NOT NULL,
	`email` text,
	`properties` text DEFAULT '{}' NOT NULL,
	`unsubscribed_at` integer,
	`suppressed_at` integer,
	`suppressed_reason` text,
	`first_seen_at` integer,
	`last_seen_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_external_id_unique` ON `contacts` (`external_id`);--> statement-breakpoint
CREATE INDEX `contacts_email_idx` ON `contacts` (`email`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`event` text NOT NULL,
	`user_id` text NOT NULL,
	`user_email` text,
	`properties` text DEFAULT '{}' NOT NULL,
	`idempotency_key` text,
	`source` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`processed_at` integer,
	`replay_count` integer DEFAULT 0 NOT NULL,
	`last_replayed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_idempotency_key_unique` ON `events` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `events_event_occurred_idx` ON `events` (`event`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `events_user_occurred_idx` ON `events` (`user_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `events_unprocessed_idx` ON `events` (`received_at`) WHERE processed_at IS NULL;