ALTER TABLE `import_uploads` ADD `options` text;--> statement-breakpoint
ALTER TABLE `import_jobs` ADD `options` text;--> statement-breakpoint
ALTER TABLE `import_jobs` ADD `would_create` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `import_jobs` ADD `would_update` integer DEFAULT 0 NOT NULL;