CREATE TABLE `erasure_markers` (
	`id` text PRIMARY KEY NOT NULL,
	`erased_at` integer NOT NULL
);
