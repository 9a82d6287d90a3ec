ALTER TABLE `events` ADD `anonymous` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `contact_update` text;