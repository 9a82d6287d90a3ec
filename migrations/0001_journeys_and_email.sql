CREATE TABLE `emails` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`to_address` text,
	`template_key` text,
	`props` text DEFAULT '{}' NOT NULL,
	`subject` text,
	`html` text,
	`text` text,
	`status` text NOT NULL,
	`provider` text,
	`provider_message_id` text,
	`error` text,
	`bounce_type` text,
	`journey_key` text,
	`enrollment_id` text,
	`step_key` text,
	`resent_from_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`sent_at` integer,
	`delivered_at` integer,
	`bounced_at` integer,
	`complained_at` integer,
	`failed_at` integer,
	`suppressed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `emails_enrollment_step_unique` ON `emails` (`enrollment_id`,`step_key`);--> statement-breakpoint
CREATE INDEX `emails_provider_message_idx` ON `emails` (`provider_message_id`);--> statement-breakpoint
CREATE INDEX `emails_status_created_idx` ON `emails` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `emails_resent_from_idx` ON `emails` (`resent_from_id`);--> statement-breakpoint
CREATE INDEX `emails_to_address_idx` ON `emails` (`to_address`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`email` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `enrollments` (
	`id` text PRIMARY KEY NOT NULL,
	`journey_key` text NOT NULL,
	`user_id` text NOT NULL,
	`status` text NOT NULL,
	`trigger_event_id` text,
	`source` text NOT NULL,
	`waiting_for` text,
	`error` text,
	`exit_reason` text,
	`exit_event_id` text,
	`enrolled_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `enrollments_one_running_unique` ON `enrollments` (`journey_key`,`user_id`) WHERE status IN ('active', 'waiting');--> statement-breakpoint
CREATE INDEX `enrollments_journey_user_enrolled_idx` ON `enrollments` (`journey_key`,`user_id`,`enrolled_at`);--> statement-breakpoint
CREATE INDEX `enrollments_user_status_idx` ON `enrollments` (`user_id`,`status`);--> statement-breakpoint
CREATE INDEX `enrollments_journey_status_idx` ON `enrollments` (`journey_key`,`status`,`id`);--> statement-breakpoint
CREATE TABLE `journey_settings` (
	`journey_key` text PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `contacts` DROP COLUMN `suppressed_at`;--> statement-breakpoint
ALTER TABLE `contacts` DROP COLUMN `suppressed_reason`;