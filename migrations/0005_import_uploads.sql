CREATE TABLE `import_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`format` text NOT NULL,
	`file_name` text,
	`r2_key` text NOT NULL,
	`r2_upload_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `import_uploads_status_created_idx` ON `import_uploads` (`status`,`created_at`);