CREATE TABLE `broadcasts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`template_key` text NOT NULL,
	`data` text NOT NULL,
	`topic_key` text,
	`send_at` integer,
	`rate_per_minute` integer,
	`idempotency_key` text,
	`samples` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `broadcasts_idempotency_key_unique` ON `broadcasts` (`idempotency_key`);--> statement-breakpoint
ALTER TABLE `emails` ADD `broadcast_id` text;--> statement-breakpoint
ALTER TABLE `emails` ADD `contact_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `emails_broadcast_contact_unique` ON `emails` (`broadcast_id`,`contact_id`);