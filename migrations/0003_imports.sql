CREATE TABLE `import_chunks` (
	`job_id` text NOT NULL,
	`start_offset` integer NOT NULL,
	`end_offset` integer NOT NULL,
	`rows` integer NOT NULL,
	`follow_up_sent` integer DEFAULT false NOT NULL,
	`committed_at` integer DEFAULT (unixepoch() * 1000) NOT NULL,
	PRIMARY KEY(`job_id`, `start_offset`)
);
--> statement-breakpoint
CREATE TABLE `import_errors` (
	`job_id` text NOT NULL,
	`row` integer NOT NULL,
	`error` text NOT NULL,
	`data` text,
	PRIMARY KEY(`job_id`, `row`)
);
--> statement-breakpoint
CREATE TABLE `import_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`format` text NOT NULL,
	`file_name` text,
	`source_key` text NOT NULL,
	`source_bytes` integer NOT NULL,
	`header` text,
	`checkpoint_offset` integer DEFAULT 0 NOT NULL,
	`checkpoint_row` integer DEFAULT 0 NOT NULL,
	`total_rows` integer,
	`processed_rows` integer DEFAULT 0 NOT NULL,
	`failed_rows` integer DEFAULT 0 NOT NULL,
	`recovery_attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `import_seen_ids` (
	`job_id` text NOT NULL,
	`external_id` text NOT NULL,
	PRIMARY KEY(`job_id`, `external_id`)
);
