CREATE TABLE `suppression_lifts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text NOT NULL,
	`reason` text NOT NULL,
	`source` text,
	`forced` integer NOT NULL,
	`lifted_by` text NOT NULL,
	`lifted_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `suppressions` ADD `source` text;--> statement-breakpoint
CREATE INDEX `suppressions_reason_email_idx` ON `suppressions` (`reason`,`email`);--> statement-breakpoint
CREATE INDEX `suppressions_source_email_idx` ON `suppressions` (`source`,`email`);--> statement-breakpoint
ALTER TABLE `import_jobs` ADD `already_suppressed` integer DEFAULT 0 NOT NULL;