CREATE INDEX `emails_user_idx` ON `emails` (`user_id`);--> statement-breakpoint
CREATE INDEX `emails_body_created_idx` ON `emails` (`created_at`) WHERE html IS NOT NULL OR text IS NOT NULL;--> statement-breakpoint
CREATE INDEX `events_occurred_idx` ON `events` (`occurred_at`,`id`);