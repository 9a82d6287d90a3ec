CREATE TABLE `backfill_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`journey_key` text NOT NULL,
	`status` text NOT NULL,
	`dry_run` integer NOT NULL,
	`filter` text NOT NULL,
	`max_contacts` integer,
	`page_size` integer NOT NULL,
	`cursor` text DEFAULT '' NOT NULL,
	`pages` integer DEFAULT 0 NOT NULL,
	`matched` integer DEFAULT 0 NOT NULL,
	`recovery_attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `backfill_pages` (
	`job_id` text NOT NULL,
	`start_cursor` text NOT NULL,
	`end_cursor` text NOT NULL,
	`matched` integer NOT NULL,
	`follow_up_sent` integer DEFAULT false NOT NULL,
	`committed_at` integer DEFAULT (unixepoch() * 1000) NOT NULL,
	PRIMARY KEY(`job_id`, `start_cursor`)
);
--> statement-breakpoint
CREATE TABLE `backfill_tallies` (
	`job_id` text NOT NULL,
	`outcome` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`job_id`, `outcome`)
);
--> statement-breakpoint
ALTER TABLE `contacts` ADD `import_job_id` text;--> statement-breakpoint
CREATE INDEX `contacts_import_job_idx` ON `contacts` (`import_job_id`,`id`);