CREATE TABLE `contact_changes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`contact_id` text NOT NULL,
	`field` text NOT NULL,
	`old_value` text,
	`new_value` text,
	`source` text NOT NULL,
	`event_id` text,
	`changed_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `contact_changes_contact_field_idx` ON `contact_changes` (`contact_id`,`field`,`id`);--> statement-breakpoint
DROP INDEX `emails_to_address_idx`;--> statement-breakpoint
CREATE INDEX `emails_to_address_sent_idx` ON `emails` (lower("to_address"),`sent_at`);