CREATE TABLE `archive_erasures` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`state` text NOT NULL,
	`requested_at` integer NOT NULL,
	`requested_seq` integer NOT NULL,
	`done_at` integer
);
--> statement-breakpoint
CREATE INDEX `archive_erasures_pending_idx` ON `archive_erasures` (`user_id`) WHERE state = 'scrub_pending';--> statement-breakpoint
CREATE TABLE `archive_scrub` (
	`id` integer PRIMARY KEY NOT NULL,
	`covers_seq` integer,
	`pass_started_at` integer,
	`after_key` text
);
