DROP TABLE `import_seen_ids`;--> statement-breakpoint
ALTER TABLE `contacts` ADD `import_job_id` text;